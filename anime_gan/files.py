"""Writing a run's files so that a crash never leaves a half-written file under its final name.

Every file is written under a temporary name beside its final one and moved into place.
"""

import contextlib
import json
import os

import keras

from anime_gan.errors import ArtifactWriteError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    If writing fails, ``path`` keeps its old content and ``ArtifactWriteError``
    says which file could not be written.
    """
    directory, name = os.path.split(path)
    # Keep the extension last: Keras and matplotlib choose the format by it.
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise ArtifactWriteError(
            f"could not write {path}: {error.strerror or error}; the files written "
            "before are intact. Free some space or fix the folder, then run the same "
            "command to resume.") from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_image(path, image):
    """Writes a uint8 image [H, W, 3] (PNG, JPEG... by the extension)."""
    with atomic_path(path) as tmp:
        keras.utils.save_img(tmp, image, scale=False)


def save_json(path, value):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(value, f, indent=2)


def read_json(path):
    with open(path) as f:
        return json.load(f)

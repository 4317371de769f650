"""Writing a run's files so that a crash never leaves a half-written file under its final name.

Every file is written under a temporary name beside its final one and moved into place.
"""

import contextlib
import json
import logging
import os
import re

import keras

from anime_gan.errors import ArtifactWriteError

logger = logging.getLogger(__name__)

_TEMPORARY = re.compile(r"\.tmp-(\d+)-")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    If writing fails, ``path`` keeps its old content and ``ArtifactWriteError``
    says which file could not be written.
    """
    directory, name = os.path.split(path)
    # Keep the extension last: Keras and matplotlib choose the format by it.
    tmp = os.path.join(directory, temporary_name(name))
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise ArtifactWriteError(
            f"could not write {path}: {error.strerror or error}; the files written "
            "before are intact. Free some space or fix the folder, then run the same "
            "command again (a training run resumes).") from error
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


def temporary_name(name):
    """``name`` while this process writes it; a kill leaves it for ``remove_leftovers``."""
    return f".tmp-{os.getpid()}-{name}"


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or no way to ask (Windows)
        return True
    return True


def remove_leftovers(folder):
    """Removes the temporary files that processes killed while writing (SIGKILL, a power
    cut) left anywhere in ``folder``; those of running processes stay."""
    for directory, _, names in os.walk(folder):
        for name in names:
            match = _TEMPORARY.match(name)
            if match and int(match.group(1)) != os.getpid() and \
                    not _running(int(match.group(1))):
                path = os.path.join(directory, name)
                with contextlib.suppress(OSError):
                    os.remove(path)
                    logger.info("Removed %s, left by a process stopped while it wrote", path)

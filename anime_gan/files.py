"""Writing a run's files so that a crash never leaves a half-written file under its final name.

Every file is written under a temporary name beside its final one and moved into place.
"""

import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import shutil

import keras

from anime_gan.errors import ArgumentTypeError, ArtifactWriteError

logger = logging.getLogger(__name__)

_TEMPORARY = re.compile(r"\.tmp-(\d+)-")


def user_path(path, who, what="a run folder"):
    """``path`` (a str or ``os.PathLike``) with ``~`` expanded, as a shell would; anything
    else is refused in one line, naming the function ``who`` was called."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"{who} takes {what} (a path), not {type(path).__name__}")
    return os.path.expanduser(os.fspath(path))


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


def replace_directory(new, directory):
    """Puts the folder ``new`` at ``directory`` (deleting what was there) so that a reader
    always finds one of the two complete: one atomic exchange where the system has it
    (Linux's ``renameat2``), else two renames with ``directory + ".old"`` between them,
    which ``recover_directory`` puts back after a kill."""
    if os.path.isdir(directory) and _exchange(new, directory):
        shutil.rmtree(new, ignore_errors=True)  # now the old folder
        return
    old = directory + ".old"
    if os.path.exists(directory):
        os.rename(directory, old)
    os.rename(new, directory)
    shutil.rmtree(old, ignore_errors=True)


def recover_directory(directory):
    """Puts back the folder a kill between ``replace_directory``'s two renames left at
    ``directory + ".old"``, if nothing is at ``directory``."""
    old = directory + ".old"
    if os.path.isdir(old) and not os.path.lexists(directory):
        os.rename(old, directory)
        logger.info("Restored %s, left at %s by a process stopped while it replaced it",
                    directory, old)


def _exchange(a, b):
    """Swaps two paths in one step; False where the system or file system cannot."""
    renameat2 = os.name == "posix" and getattr(ctypes.CDLL(None, use_errno=True),
                                               "renameat2", None)
    if not renameat2:
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # not offered here: two renames do
    raise OSError(code, os.strerror(code), b)


def save_image(path, image):
    """Writes a uint8 image [H, W, 3] (PNG, JPEG... by the extension)."""
    with atomic_path(path) as tmp:
        keras.utils.save_img(tmp, image, scale=False)


def save_json(path, value):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(value, f, indent=2)


def append_json_line(path, value):
    """Adds ``value`` to a JSON Lines file as one line, on the disk before it returns (on
    a line of its own after a last line that a kill cut short)."""
    with open(path, "a+b") as f:  # "a": every write goes to the end, wherever it reads
        cut_short = False
        if f.seek(0, os.SEEK_END):
            f.seek(-1, os.SEEK_END)
            cut_short = f.read(1) != b"\n"
        f.write((("\n" if cut_short else "") + json.dumps(value) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


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

"""One owner at a time: the lock file ``RUN/.lock``.

Every mode that writes into a run folder (train, export, generate, evaluate) holds
its lock; a second process refuses to start, naming the holder (host and PID).
The lock is an advisory lock of the operating system on the open file
(``flock``; ``msvcrt.locking`` on Windows), so it ends with the process that held
it, however that process ended: a lock file left by a killed process is taken
over, with a warning that names it.  The file's contents only describe the holder.
"""

import contextlib
import datetime
import json
import logging
import os
import socket
import sys

from anime_gan.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"


class RunInUseError(ConfigError):
    """Another process holds the run folder's lock."""


def _try_lock(fd):
    """Takes the OS lock on ``fd`` without waiting; False if another process holds it."""
    try:
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:  # BlockingIOError, PermissionError (Windows)
        return False


def holder_of(run_dir):
    """Who holds ``run_dir``'s lock now (host, PID...), or None if nobody does."""
    try:
        # Reading is enough for flock (another user's run); msvcrt locks need writing.
        fd = os.open(os.path.join(run_dir, LOCK_FILE), os.O_RDONLY if fcntl else os.O_RDWR)
    except OSError:
        return None
    try:
        if not _try_lock(fd):
            return _read_holder(fd) or {}
        if fcntl is None:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return None
    finally:
        os.close(fd)  # which also ends an flock taken here


def _read_holder(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return json.loads(os.read(fd, 4096).decode() or "null")
    except (ValueError, UnicodeDecodeError):
        return {"host": "?", "pid": "?"}


def describe(holder):
    if not holder:
        return "another process"
    started = f", since {holder['started']}" if holder.get("started") else ""
    return f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}{started}"


@contextlib.contextmanager
def run_lock(run_dir, create=True):
    """Holds ``run_dir``'s lock inside the block; raises ``RunInUseError`` if another
    process holds it.  With ``create``, a missing folder is made (and removed again
    on leaving if nothing was written into it)."""
    if not create and not os.path.isdir(run_dir):
        raise ConfigError(f"--output_dir={run_dir}: " + (
            "is a file, not a run folder; give the folder of the run" + (
                " that saved it" if os.fspath(run_dir).endswith(".keras") else "")
            if os.path.exists(run_dir) else "no run here (no such folder)"))
    created = create and not os.path.isdir(run_dir)
    if created:
        try:
            os.makedirs(run_dir)
        except FileExistsError:
            if not os.path.isdir(run_dir):
                raise ConfigError(f"--output_dir={run_dir}: is a file, not a folder; choose a "
                                  "folder") from None
            created = False  # by a process started at the same moment: its lock decides
        except OSError as error:
            raise ConfigError(f"--output_dir={run_dir}: cannot create the folder "
                              f"({error.strerror or error})") from None
    path = os.path.join(run_dir, LOCK_FILE)
    fd = _acquire(path, run_dir)
    try:
        yield
    finally:
        _release(fd, path)
        if created and not os.listdir(run_dir):
            os.rmdir(run_dir)


def _acquire(path, run_dir):
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ConfigError(f"--output_dir={run_dir}: cannot write in the folder "
                              f"({error.strerror or error})") from None
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise RunInUseError(
                f"--output_dir={run_dir}: in use by {describe(holder)}; wait for it to "
                "finish or stop it, or choose another --output_dir")
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed the file as we opened it: try again
    left = _read_holder(fd)
    if left and left.get("pid") != os.getpid():
        logger.warning("Taking over the lock of %s in %s: that process is no longer running",
                       describe(left), run_dir)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps({
        "host": socket.gethostname(), "pid": os.getpid(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }).encode())
    return fd


def _same_file(fd, path):
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _release(fd, path):
    try:
        os.remove(path)  # while still locked, so nobody takes a lock on a removed file
    except OSError:
        pass
    os.close(fd)

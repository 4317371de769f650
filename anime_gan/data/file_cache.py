"""tf.data's cache in files under ``--cache_dir``: filled by one process at a time,
filled again when damaged, and a full disk reported in one line.

``tf.data.Dataset.cache(path)`` writes ``path.index`` and ``path.data-*`` on its first
full pass, guarded by a ``path_0.lockfile`` that a killed process leaves behind; it
then refuses every later run.  Here the filling holds an OS lock on
``path.anime_gan-lock`` instead (released however the process ends), so a TensorFlow
lock file found while holding it is stale and removed.
"""

import contextlib
import glob
import hashlib
import json
import logging
import os
import re
import time

import tensorflow as tf

from anime_gan.errors import DataError, first_line, tensorflow_message

try:
    import fcntl
except ImportError:  # Windows: no cross-process guard; TensorFlow's own lock file stays
    fcntl = None

logger = logging.getLogger(__name__)

# A cache whose files are there but do not read back (cut short, overwritten).
_DAMAGED = (tf.errors.InternalError, tf.errors.OutOfRangeError, tf.errors.DataLossError,
            tf.errors.InvalidArgumentError, tf.errors.NotFoundError)
# A cache that cannot be written (a full disk, a read-only folder).
_UNWRITABLE = (tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
               tf.errors.UnknownError, OSError)


def cache_path(cache_dir, name):
    """'' (tf.data's in-memory cache) without ``cache_dir``, else a file path in it."""
    if not cache_dir:
        return ""
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as error:
        raise DataError(f"--cache_dir={cache_dir}: cannot create the folder "
                        f"({error.strerror or error})") from None
    return os.path.join(cache_dir, name)


def listing_digest(paths, data_dir):
    """A hex digest of the files' paths (relative to ``data_dir``), sizes and modification
    times: it changes when the data set does, for cache keys."""
    listing = [(os.path.relpath(p, data_dir), os.path.getsize(p), os.path.getmtime(p))
               for p in paths]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


# The files of a cache named by cache_path: tf.data's, and the lock files (TensorFlow's, ours);
# and the real images' features that evaluation keeps beside them.
_CACHE_FILE = re.compile(r"(images|tfds)-.*px(-[0-9a-f]{16})?"
                         r"(\.index|\.data-\d+-of-\d+|_\d+\.lockfile|\.anime_gan-lock)$"
                         r"|real_features-[0-9a-f]{20}\.npy$")


def is_cache_file(name):
    """Whether a file name is one of a ``--cache_dir`` cache's (a cache folder kept inside
    the data folder holds them: they are no images to skip and report)."""
    return bool(_CACHE_FILE.fullmatch(name))


def fill_time(path):
    """When the cache at ``path`` was last filled (its index file's time), or None."""
    try:
        return os.path.getmtime(path + ".index") if path else None
    except OSError:
        return None


def _files(path):
    return [p for p in glob.glob(glob.escape(path) + "*") if not p.endswith(".anime_gan-lock")]


def _remove(paths):
    for path in paths:
        with contextlib.suppress(OSError):
            os.remove(path)


@contextlib.contextmanager
def _filling_lock(path):
    if fcntl is None:
        yield
        return
    with open(path + ".anime_gan-lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Waiting for another run to finish filling the cache %s", path)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fill(read_through, path, flag, starting=lambda: None):
    """``read_through()`` (one full pass over a dataset cached at ``path``, which fills
    the cache or reads it), with the cache's faults handled; ``flag`` names the setting
    in messages.  ``starting()`` is called first, once no other process fills the cache
    (it may have filled it meanwhile).  Without ``path`` (a cache in memory) it is just
    the two calls."""
    if not path:
        starting()
        return read_through()
    with _filling_lock(path):
        stale = glob.glob(glob.escape(path) + "_*.lockfile")
        if stale and fcntl is not None:
            logger.warning("Removed the cache lock file %s left by a run that stopped while "
                           "filling it", stale[0])
            _remove(_files(path) if not os.path.exists(path + ".index") else stale)
        starting()
        try:
            return _read_or_refill(read_through, path)
        except _UNWRITABLE as error:
            _remove(_files(path))
            raise DataError(f"{flag}: could not write the cache {path} "
                            f"({first_line(error)}); free some space or choose another "
                            "--cache_dir") from None


def _read_or_refill(read_through, path):
    try:
        return read_through()
    except _DAMAGED as error:
        if not os.path.exists(path + ".index"):
            raise
        logger.warning("The cache %s does not read back (%s); filling it again", path,
                       tensorflow_message(error))
        _remove(_files(path))
        return read_through()


def logged_fill(read_through, path, flag, what):
    """``fill``, saying first 'Reading the WHAT from the cache PATH' (filled by an earlier
    run, or by another while this one waited) or 'Decoding WHAT into the cache PATH'.
    Returns ``read_through()``'s result, whether the cache was only read, and the seconds
    the pass took; the caller says 'Read' or 'Cached' with what it counts (``log_pass``)."""
    filled = started = None

    def starting():
        nonlocal filled, started
        filled, started = fill_time(path), time.perf_counter()
        logger.info("Reading the %s from the cache %s" if filled else
                    "Decoding %s into the cache %s", what, path or "in memory")
        if path and not filled:
            _note_other_caches(path)

    result = fill(read_through, path, flag, starting)
    reused = filled is not None and filled == fill_time(path)  # not filled again
    return result, reused, time.perf_counter() - started


def log_pass(reused, count, seconds):
    """The line that closes ``logged_fill``'s pass, once the caller knows its count."""
    logger.info("%s %d images in %.1f s", "Read" if reused else "Cached", count, seconds)


def _note_other_caches(path):
    """Says how much the folder's other caches take: one is made for every change of the
    data (an image added), and none is ever deleted, since another run may read it."""
    folder, own = os.path.split(path)
    others = {}
    for name in os.listdir(folder):
        prefix = name.split(".data-")[0]
        if ".data-" in name and is_cache_file(name) and prefix != own:
            with contextlib.suppress(OSError):  # deleted meanwhile
                others[prefix] = others.get(prefix, 0) + os.path.getsize(
                    os.path.join(folder, name))
    if others:
        size = sum(others.values())
        logger.info("%s also holds %d other cache(s) of %s (other data, image sizes, or "
                    "earlier versions of this data): delete the ones no run reads", folder,
                    len(others), f"{size / 1e9:.1f} GB" if size >= 1e9 else
                    f"{size / 1e6:.1f} MB")

"""``--data_dir=kaggle:OWNER/NAME``: a Kaggle data set, downloaded by ``kagglehub``.

The download stays in kagglehub's own cache (``~/.cache/kagglehub/``, or
``$KAGGLEHUB_CACHE``), so it is fetched once and shared with anything else that
uses kagglehub; the local folder then trains like any ``--data_dir``.  The two
Anime Face Datasets:

    --data_dir=kaggle:splcher/animefacedataset     # ~63,600 crops, images/*.jpg
    --data_dir=kaggle:soumikrakshit/anime-faces    # 21,551 64x64 faces, data/data/*.png

kagglehub is optional (``pip install kagglehub``, or the ``[kaggle]`` extra).
Public data sets download without an account; when Kaggle asks for one, the
API token goes in ``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME``/``KAGGLE_KEY``.
A pinned version (``kaggle:OWNER/NAME/versions/N``) is read from the cache
without asking Kaggle for the newest version, so it also works offline; an unpinned one
falls back to the newest cached version when Kaggle cannot be reached.
"""

import logging
import os
import re

from anime_gan.errors import DataError

logger = logging.getLogger(__name__)

PREFIX = "kaggle:"
ANIME_FACE_DATASETS = ("splcher/animefacedataset", "soumikrakshit/anime-faces")
_HANDLE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(/versions/[0-9]+)?$")
_CREDENTIALS = ("put your Kaggle API token in ~/.kaggle/kaggle.json or set KAGGLE_USERNAME "
                "and KAGGLE_KEY (kaggle.com > Settings > API > Create New Token)")


def is_kaggle(data_dir):
    return bool(data_dir) and str(data_dir).startswith(PREFIX)


def handle_problem(data_dir):
    """None for a well-formed ``kaggle:OWNER/NAME[/versions/N]``, else what is wrong."""
    handle = data_dir[len(PREFIX):]
    if _HANDLE.match(handle):
        return None
    return (f"expected kaggle:OWNER/NAME or kaggle:OWNER/NAME/versions/N, e.g. "
            f"kaggle:{ANIME_FACE_DATASETS[0]}")


def local_data_dir(data_dir):
    """``data_dir`` (``~`` expanded), or for ``kaggle:HANDLE`` the local folder of the
    download."""
    if is_kaggle(data_dir):
        return download(data_dir)
    return data_dir and os.path.expanduser(data_dir)


def _status(error):
    return getattr(getattr(error, "response", None), "status_code", None)


def _has_credentials(kagglehub):
    """True or False if kagglehub can tell whether credentials are set up, else None."""
    try:
        return kagglehub.config.get_kaggle_credentials() is not None
    except AttributeError:
        return None
    except Exception:  # a malformed kaggle.json: kagglehub raises ValueError
        return False


def download(data_dir):
    """The local folder of ``kaggle:HANDLE``, downloading it into kagglehub's cache if needed.

    Every failure is a one-line ``DataError`` that says what to do.
    """
    flag = f"--data_dir={data_dir}"
    problem = handle_problem(data_dir)
    if problem:
        raise DataError(f"{flag}: {problem}")
    handle = data_dir[len(PREFIX):]
    try:
        import kagglehub
    except ImportError:
        raise DataError(
            f"{flag}: needs the kagglehub package: pip install kagglehub (or install "
            "anime-gan[kaggle]); or download the data set by hand and give its folder "
            "(see README)") from None
    logger.info("Getting the Kaggle data set %s with kagglehub (cached after the first "
                "download)", handle)
    try:
        path = kagglehub.dataset_download(handle)
    except Exception as error:  # kagglehub raises many types: HTTP, auth, network, disk
        kind = type(error).__name__
        detail = (str(error).strip().splitlines() or [kind])[0]
        status = _status(error)
        if status in (401, 403) or kind in ("UnauthenticatedError", "CredentialError"):
            credentials = _has_credentials(kagglehub)
            if credentials is False:
                raise DataError(f"{flag}: Kaggle wants an account for this download and no "
                                f"credentials were found: {_CREDENTIALS}") from None
            raise DataError(f"{flag}: Kaggle refused the download ({detail}); check your "
                            "credentials and accept the data set's terms on its Kaggle "
                            "page") from None
        if status == 404 or kind == "NotFoundError":
            raise DataError(f"{flag}: no such data set on Kaggle ({detail}); check the "
                            f"handle, e.g. kaggle:{ANIME_FACE_DATASETS[0]}") from None
        cached = _cached_versions(handle)
        if cached:  # offline, say: what kagglehub downloaded before trains as well
            version, path = cached[-1]
            logger.warning("Kaggle could not be reached (%s: %s): using the newest version in "
                           "kagglehub's cache, kaggle:%s/versions/%d", kind, detail, handle,
                           version)
            return path
        raise DataError(
            f"{flag}: the download failed ({kind}: {detail}); check the connection, or use a "
            "pinned version already in the cache (kaggle:OWNER/NAME/versions/N) or the "
            "folder itself") from None
    logger.info("Kaggle data set %s is in %s", handle, path)
    return str(path)


def _cached_versions(handle):
    """[(version, folder)] of an unpinned ``OWNER/NAME`` in kagglehub's cache, oldest first."""
    if "/versions/" in handle:
        return []
    root = os.path.join(os.environ.get("KAGGLEHUB_CACHE")
                        or os.path.join(os.path.expanduser("~"), ".cache", "kagglehub"),
                        "datasets", *handle.split("/"), "versions")
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted((int(name), os.path.join(root, name)) for name in names
                  if name.isdigit() and os.path.isdir(os.path.join(root, name)))

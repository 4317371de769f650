"""Finding the usable image files in a folder, fast, before TensorFlow decodes them.

Each file is classified from its first and last bytes, without decoding, so a
folder of 63,000 files is checked in seconds.  Files that cannot be images
(empty, text or other data, formats the decoder does not read, or cut short)
are skipped and reported by kind; the formats are recognised by content, so
upper-case or missing extensions do not matter.  Damage that only a decoder
finds is caught later, in the pipeline (``data.folder_images``).
"""

import collections
import dataclasses
import hashlib
import json
import logging
import os

from anime_gan.errors import DataError

logger = logging.getLogger(__name__)

EXAMPLES_PER_KIND = 3
_HEAD, _TAIL = 32, 1024

# Formats tf.io.decode_image reads, recognised by their first bytes.
_SIGNATURES = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
}
# Image formats the decoder does not read.
_UNSUPPORTED = {
    "TIFF": (b"II*\x00", b"MM\x00*"),
    "ICO": (b"\x00\x00\x01\x00",),
    "PSD": (b"8BPS",),
    "JPEG 2000": (b"\x00\x00\x00\x0cjP  ",),
}


@dataclasses.dataclass
class FolderScan:
    usable: list
    skipped: dict  # kind -> list of paths

    def log_skipped(self):
        for kind, paths in sorted(self.skipped.items()):
            examples = ", ".join(paths[:EXAMPLES_PER_KIND])
            more = f" and {len(paths) - EXAMPLES_PER_KIND} more" if len(paths) > EXAMPLES_PER_KIND else ""
            logger.warning("Skipped %d file(s): %s, e.g. %s%s", len(paths), kind, examples, more)


def _format(head):
    for name, signatures in _SIGNATURES.items():
        if head.startswith(signatures):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _is_complete(kind, head, tail, size):
    """Whether the file ends as its format requires (a cut-short download does not)."""
    if kind == "jpeg":
        return b"\xff\xd9" in tail
    if kind == "png":
        return b"IEND" in tail[-16:]
    if kind == "gif":
        return tail.rstrip(b"\x00\r\n ")[-1:] == b";"
    if kind == "bmp":
        return size >= int.from_bytes(head[2:6], "little")
    if kind == "webp":
        return size >= int.from_bytes(head[4:8], "little") + 8
    return True


def classify(path):
    """None for a usable image file, else the kind of problem, as a short phrase."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(_HEAD)
            f.seek(max(0, size - _TAIL))
            tail = f.read(_TAIL)
    except PermissionError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror}); fix its "
                        "permissions or move it out of --data_dir") from None
    if size == 0:
        return "empty file"
    kind = _format(head)
    if kind is None:
        for name, signatures in _UNSUPPORTED.items():
            if head.startswith(signatures):
                return f"unsupported image format ({name}); convert to PNG or JPEG"
        return "not an image (unknown content)"
    if not _is_complete(kind, head, tail, size):
        return f"truncated {kind.upper()}"
    return None


def _walk_error(error):
    raise DataError(f"{error.filename}: cannot read the folder ({error.strerror}); fix its "
                    "permissions or point --data_dir elsewhere") from None


def scan_folder(data_dir):
    """The usable image files under ``data_dir`` (recursively, sorted) and the skipped ones.

    Hidden files and folders (names starting with '.') are ignored.
    """
    if not os.path.exists(data_dir):
        raise DataError(f"--data_dir={data_dir}: no such folder; give the folder that holds "
                        "the images (see README: Training on the real Anime Face Dataset)")
    if not os.path.isdir(data_dir):
        raise DataError(f"--data_dir={data_dir}: is a file, not a folder; give the folder "
                        "that holds the images")
    usable, skipped = [], collections.defaultdict(list)
    for root, dirs, files in os.walk(data_dir, onerror=_walk_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            problem = classify(path)
            if problem:
                skipped[problem].append(path)
            else:
                usable.append(path)
    scan = FolderScan(usable, dict(skipped))
    scan.log_skipped()
    if not usable:
        found = sum(len(p) for p in skipped.values())
        raise DataError(f"--data_dir={data_dir}: no usable images ({found} other files); "
                        "it needs JPEG, PNG, BMP, GIF or WebP files, in any subfolder")
    return scan


def listing_digest(paths, data_dir):
    """A hex digest of the files' paths (relative to ``data_dir``), sizes and modification
    times: it changes when the data set does, for cache keys."""
    listing = [(os.path.relpath(p, data_dir), os.path.getsize(p), os.path.getmtime(p))
               for p in paths]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()

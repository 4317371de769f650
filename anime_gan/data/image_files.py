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
import logging
import os
import stat
import struct

from anime_gan.data.folder_walk import (RUN_FOLDER, SAME_FILE, enclosing_run, one_name_each,
                                        walk_folders)
from anime_gan.data.image_headers import HEAD_BYTES, image_format, image_size
from anime_gan.errors import DataError

logger = logging.getLogger(__name__)

EXAMPLES_PER_KIND = 3
DEFAULT_MAX_PIXELS = 25_000_000
_TAIL = 1024

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
            logger.warning("Skipped %d %s: %s, e.g. %s%s", len(paths), _noun(kind), kind,
                           examples, more)


def _noun(kind):
    return "folder(s)" if kind == RUN_FOLDER or kind.startswith("unreadable folder") else "file(s)"


_END_MARKERS = {"jpeg": b"\xff\xd9", "png": b"IEND"}


def _is_complete(kind, head, tail, size):
    """Whether the file ends as its format requires (a cut-short download does not);
    ``tail`` is the file's end, or the whole file (JPEG, PNG) to find the end marker."""
    if kind in _END_MARKERS:
        return _END_MARKERS[kind] in tail
    if kind == "gif":
        return tail.rstrip(b"\x00\r\n ")[-1:] == b";"
    if kind == "bmp":  # the file and its headers' sizes
        return len(head) >= 26 and size >= int.from_bytes(head[2:6], "little")
    if kind == "webp":
        return size >= int.from_bytes(head[4:8], "little") + 8
    return True


def _bmp_problem(f):
    """What TensorFlow's BMP decoder cannot read right, or None: 1 or 4 bits a pixel, and
    8 bits a pixel, which it reads as grey levels, the pixels' indices into the colour
    table: right for a table of greys 0..255 only."""
    f.seek(0)
    header = f.read(54)
    bits = int.from_bytes(header[28:30], "little")
    if bits < 8:
        return "unsupported image format (BMP of 1 or 4 bits a pixel); convert to PNG or JPEG"
    if bits != 8 or len(header) < 54:
        return None
    f.seek(14 + int.from_bytes(header[14:18], "little"))
    colours = min(int.from_bytes(header[46:50], "little") or 256, 257)  # 257: a broken one
    table = f.read(4 * colours)
    greys = b"".join(bytes((level, level, level)) for level in range(min(colours, 256)))
    if colours <= 256 and b"".join(table[i:i + 3] for i in range(0, len(table), 4)) == greys:
        return None
    return ("unsupported image format (BMP of 8 bits a pixel with a colour table); "
            "convert to PNG or JPEG")


def classify(path, max_pixels=None):
    """None for a usable image file, else the kind of problem, as a short phrase.

    A file declaring more than ``max_pixels`` pixels is too large (decoding it would
    allocate them all); an entry that cannot be read, or a link to nothing, is
    unusable like a broken file.
    """
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):  # opening a named pipe would wait forever
            return "not a regular file (a pipe, socket or device)"
        size = status.st_size
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            kind = image_format(head)
            try:
                dimensions = image_size(kind, head, f) if kind and max_pixels else None
            except (struct.error, IndexError):  # the header ends before its fields
                return f"truncated {kind.upper()}"
            bmp_problem = _bmp_problem(f) if kind == "bmp" else None
            f.seek(max(0, size - _TAIL))
            tail = f.read(_TAIL)
            if not _is_complete(kind, head, tail, size) and kind in _END_MARKERS:
                f.seek(0)  # bytes after the end marker (a "motion photo") are harmless
                tail = f.read()
    except FileNotFoundError:
        return "broken link (its target does not exist)" if os.path.islink(path) else (
            "vanished while reading")
    except PermissionError:
        return "unreadable (permission denied)"
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if size == 0:
        return "empty file"
    if kind is None:
        if head.startswith(b"PK\x03\x04"):
            return ZIP_ARCHIVE
        for name, signatures in _UNSUPPORTED.items():
            if head.startswith(signatures):
                return f"unsupported image format ({name}); convert to PNG or JPEG"
        return "not an image (unknown content)"
    if not _is_complete(kind, head, tail, size):
        return f"truncated {kind.upper()}"
    if bmp_problem:
        return bmp_problem
    if dimensions and dimensions[0] * dimensions[1] > max_pixels:
        return f"too large (more than --max_image_pixels={max_pixels} pixels declared)"
    return None


ZIP_ARCHIVE = ("a zip archive (not read: if it holds images, unzip it here, or give "
               "--dataset=tfds:anime_faces)")


def not_a_folder(path):
    """What to say of a --data_dir that is a file (a zip, the Kaggle download, to unzip)."""
    if classify(path) == ZIP_ARCHIVE:
        return ("is a zip archive; unzip it and give the folder that holds its images, or "
                "give --dataset=tfds:anime_faces with the zip in TFDS's manual folder (see "
                "README)")
    return "is a file, not a folder; give the folder that holds the images"


def scan_folder(data_dir, max_pixels=DEFAULT_MAX_PIXELS, say_skipped=True):
    """The usable image files under ``data_dir`` (recursively, sorted) and the skipped ones,
    logged unless ``say_skipped`` is false (a folder whose scan was logged already).

    Hidden files and folders (names starting with '.') are ignored; linked folders
    are followed; run folders inside ``data_dir`` are skipped.
    """
    if not os.path.exists(data_dir):
        raise DataError(f"--data_dir={data_dir}: no such folder; give the folder that holds "
                        "the images (see README: Training on the real Anime Face Dataset)")
    if not os.path.isdir(data_dir):
        raise DataError(f"--data_dir={data_dir}: {not_a_folder(data_dir)}")
    if not os.access(data_dir, os.R_OK | os.X_OK):
        raise DataError(f"--data_dir={data_dir}: cannot read the folder (permission "
                        "denied); fix its permissions or point --data_dir elsewhere")
    run = enclosing_run(data_dir)
    if run:
        raise DataError(f"--data_dir={data_dir}: is inside the training run's folder {run} "
                        "(its sample grids are outputs, not data); give the folder that holds "
                        "the images")
    scan = FolderScan(*sorted_out(data_dir, max_pixels))
    if say_skipped:
        scan.log_skipped()
    if not scan.usable:
        raise DataError(f"--data_dir={data_dir}: no usable images "
                        f"({_why_none(scan.skipped, data_dir)}); "
                        "it needs JPEG, PNG, BMP, GIF or WebP files, in any subfolder")
    return scan


def sorted_out(data_dir, max_pixels=None):
    """The files under ``data_dir``, walked by ``folder_walk`` (one name a file), then
    sorted out by ``classify``: ``([usable path], {kind of problem: [path]})``."""
    usable, skipped = [], collections.defaultdict(list)
    found = [os.path.join(root, name) for root, files in walk_folders(data_dir, skipped)
             for name in files]
    for path in one_name_each(found, skipped):
        problem = classify(path, max_pixels)
        (skipped[problem] if problem else usable).append(path)
    return usable, dict(skipped)


def _why_none(skipped, data_dir):
    if not skipped:
        hidden = _hidden_entries(data_dir)
        more = ", ..." if len(hidden) > 3 else ""  # the walk stops at the fourth
        return (f"it holds only hidden files or folders, which are ignored: "
                f"{', '.join(hidden[:3])}{more}" if hidden else "it holds no files")
    kind, paths = max(skipped.items(), key=lambda item: (item[0] != SAME_FILE, len(item[1])))
    others = sum(len(p) for p in skipped.values()) - len(paths)
    return (f"{len(paths)} {_noun(kind)} skipped as {kind}"
            + (f", {others} for other reasons above" if others else ""))


def _hidden_entries(data_dir):
    """The hidden files and folders under ``data_dir`` (relative paths), a few at most."""
    found = []
    for root, dirs, files in os.walk(data_dir):
        found += [os.path.relpath(os.path.join(root, name), data_dir)
                  for name in sorted(dirs + files) if name.startswith(".")]
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(found) > 3:
            break
    return found

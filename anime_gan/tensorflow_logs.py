"""TensorFlow's C++ log lines: off unless asked for.  Imported before TensorFlow is.

``TF_CPP_MIN_LOG_LEVEL`` filters TensorFlow's C++ logging (0: everything, 1: no INFO,
2: no WARNING, 3: no ERROR).  This sets it to 3 unless the user set it.  TensorFlow 2.21
writes a few lines while it is being imported, before that filter is in place (the
oneDNN notice, "All log messages before absl::InitializeLog() is called ..."), whatever
the level.  So the first ``import tensorflow`` runs with the process's stderr (file
descriptor 2) held back, and what was written is passed on afterwards without the log
lines the level hides.  ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything, unfiltered.

The same holding back (``held_native_stderr``) keeps libjpeg's lines out of the output
while an image folder is decoded: its warnings about JPEGs it still decodes ("Corrupt JPEG
data: N extraneous bytes ...", one a file) and its errors about those it cannot ("Bogus
Huffman table definition"); the data pipeline logs how many there were instead.
"""

import contextlib
import faulthandler
import os
import re
import sys
import tempfile

DEFAULT_LEVEL = "3"

_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# absl's "I0000 00:00:1796163153.691848   28891 port.cc:153] ..." and TensorFlow's older
# "2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] ...".
# Only C++ sources: absl's Python log lines look the same but name a .py file.
_LOG_LINE = re.compile(r"(?:([IWEF])\d{4} [\d:.]+\s+\d+ \S+\.(?:cc|cpp|h):\d+\]"
                       r"|\d{4}-\d\d-\d\d [\d:.]+: ([IWEF]) \S+\.(?:cc|cpp|h):\d+\])")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called"
# The second line of the cpu_feature_guard message.
_CONTINUATIONS = ("To enable the following instructions:",)


def min_log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_log_lines(text, level):
    """``text`` without the TensorFlow log lines ``level`` hides; other lines are kept."""
    kept, hiding = [], False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            hiding = _SEVERITY[match.group(1) or match.group(2)] < level
        elif line.startswith(_ABSL_NOTICE):
            hiding = level >= 1
        elif not (hiding and line.startswith(_CONTINUATIONS)):
            hiding = False
        if not hiding:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def held_native_stderr(keep):
    """Holds back what is written to the process's stderr (file descriptor 2, where C++
    code writes) in the block, then passes on ``keep(text)``.  Without a usable stderr,
    or with ``TF_CPP_MIN_LOG_LEVEL=0``, nothing is held.  A crash in the block loses what
    was held, except Python's fault handler's report (when it is on), which goes to the
    real stderr."""
    try:
        sys.stderr.flush()
        saved = os.dup(2) if min_log_level() >= 1 else None
    except (OSError, ValueError, AttributeError):  # no usable stderr (e.g. pythonw)
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        crash_report = faulthandler.is_enabled()
        if crash_report:
            faulthandler.enable(file=saved)
        try:
            yield
        finally:
            if crash_report:
                faulthandler.enable(file=2)
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = keep(held.read().decode(errors="replace"))
            if text:
                os.write(2, text.encode())


def import_tensorflow():
    """``import tensorflow`` without the start-up lines ``TF_CPP_MIN_LOG_LEVEL`` hides."""
    if "tensorflow" in sys.modules:
        return
    with held_native_stderr(lambda text: filter_log_lines(text, min_log_level())):
        import tensorflow  # noqa: F401


class LibjpegWarnings:
    """``keep`` for ``held_native_stderr``: drops libjpeg's lines, counting them.  Its
    warnings about a JPEG it still decodes ("Corrupt JPEG data: 3 extraneous bytes before
    marker 0xdb") go to ``dropped``; its errors about one it cannot decode at all ("Bogus
    Huffman table definition"; the file is then reported as undecodable) go to
    ``errors``.  Any other line is passed on."""

    PREFIX = "Corrupt JPEG data:"
    # libjpeg's messages (jerror.h) for the corrupt files a data set may hold.
    ERROR_PREFIXES = (
        "Bogus ", "Huffman table 0x", "Invalid JPEG file structure", "Not a JPEG file",
        "Premature end of JPEG file", "Unsupported marker type", "Quantization table 0x",
        "Unsupported JPEG process", "Invalid component ID", "Invalid SOS parameters",
        "Empty JPEG image", "JPEG datastream contains no image", "Inconsistent progression",
        "Sampling factors too large", "Maximum supported image dimension")

    def __init__(self):
        self.dropped = []
        self.errors = []

    def __call__(self, text):
        kept = []
        for line in text.splitlines(keepends=True):
            if line.startswith(self.PREFIX):
                self.dropped.append(line.strip())
            elif line.startswith(self.ERROR_PREFIXES):
                self.errors.append(line.strip())
            else:
                kept.append(line)
        return "".join(kept)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
import_tensorflow()

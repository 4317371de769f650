"""Every error the project reports to a user, and the exit status the command line gives it.

- ``ConfigError`` (exit 2): a setting, path or file the user gave cannot be used; the
  message starts with the flag or path and says what to do.
- ``DataError`` (exit 2): the data the user pointed at cannot be used.
- ``TrainingFault`` (exit 1): training stopped on a fault (a loss that is no longer
  finite, a file that cannot be written); what was written before is intact.
- ``KeyboardInterrupt`` (Ctrl-C, exit 130) and ``Terminated`` (SIGTERM, exit 143; SIGHUP,
  exit 129): training saved a checkpoint and stopped; the same command resumes.

``check_whole_numbers`` is the Python API's one check of counts and seeds.
"""


import math
import numbers
import os
import re
import signal
import sys
import threading
import zipfile

MAX_SEED = 2**31 - 1  # a seed reaches the SavedModel's generate() as an int32


class _OneLineInIPython:
    """In Jupyter or IPython the error shows as its one line, not as frames of this
    library's code (IPython's ``_render_traceback_`` hook; ``%debug`` still works)."""

    def _render_traceback_(self):
        return [f"{getattr(self, 'shown_as', type(self).__name__)}: {self}"]


class ConfigError(_OneLineInIPython, ValueError):
    """A setting is invalid; the message starts with the flag's name."""


class DataError(ConfigError):
    """The data the user pointed at cannot be used; the message says why and what to do."""


class ArgumentTypeError(_OneLineInIPython, TypeError):
    """A Python call was given the wrong kind of argument; the message says what to give."""

    shown_as = "TypeError"


class TrainingFault(_OneLineInIPython, RuntimeError):
    """Training stopped; the message says why and what is left intact."""


class NonFiniteLossError(TrainingFault):
    pass


class ArtifactWriteError(TrainingFault):
    pass


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP, the terminal closed): training stops as it does on Ctrl-C (a
    checkpoint is saved).  ``exit_status`` is 128 + the signal's number, as a shell gives."""

    def __init__(self, name="SIGTERM", number=15):
        super().__init__(name)
        self.exit_status = 128 + number


def first_line(error):
    """An exception's first line (its type's name if it has no message), for one-line reports."""
    return (str(error).strip().splitlines() or [""])[0] or type(error).__name__


def tensorflow_message(error):
    """A TensorFlow error's first line without the graph function and op it names
    (``{{function_node __wrapped__SaveV2...}} ... [Op:SaveV2]``)."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", first_line(error))
    return re.sub(r"\s*\[Op:\w+\]$", "", text) or type(error).__name__


def keras_load_problem(path, error):
    """Why a ``.keras`` file did not load, in one line (Keras says "File not found" of a
    file that is there but is no zip archive)."""
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        return "not a Keras model file, or a damaged one (a .keras file is a zip archive)"
    return first_line(error)


def check_whole_numbers(caller, low=1, high=None, **values):
    """A one-line ValueError naming the first of ``values`` that is not a whole number in
    [low, high] (numpy's integers are; booleans and floats are not)."""
    for name, value in values.items():
        if (not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low
                or (high is not None and value > high)):
            allowed = f" in [{low}, {high}]" if high is not None else f", at least {low}"
            raise ValueError(f"{caller}: {name}={value!r} must be a whole number{allowed}")


def check_real_number(caller, name, value, low, low_allowed=True):
    """A one-line ValueError unless ``value`` is a finite real number (not a boolean)
    above ``low``, or equal to it when ``low_allowed``."""
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not math.isfinite(value) or value < low or (value == low and not low_allowed)):
        allowed = f"at least {low}" if low_allowed else f"above {low}"
        raise ValueError(f"{caller}: {name}={value!r} must be a finite number {allowed}")


def check_one_data_source(data_dir, dataset):
    """The Python calls' twin of the flags' rules: an image folder or a TFDS data set,
    not both, and neither given as "" (an unset variable?) for the built-in faces."""
    for name, value in (("data_dir", data_dir), ("dataset", dataset)):
        if isinstance(value, str) and not value.strip():
            raise ConfigError(f"{name}={value!r} is empty (an unset variable?); give the "
                              "data, or leave it out for the built-in faces")
    if data_dir and dataset:
        raise ConfigError(f"give either data_dir or dataset, not both: {data_dir}, {dataset}")


def quiet_ctrl_c_while_the_command_starts():
    """The command line (``anime-gan``, ``main.py``, ``python -m anime_gan``) stopped by
    Ctrl-C while it imports TensorFlow, before its own handler is in place, ends at once
    as a shell's Ctrl-C ends a program (status 130), without a traceback.  Elsewhere
    nothing changes.

    The signal's default action, not a ``KeyboardInterrupt``: raised inside a compiled
    module's initialisation, the interrupt comes out as ``ImportError: initialization
    failed`` (pybind11), a traceback and status 1.  ``cli.main`` puts Python's handler
    back once the imports are done."""
    if _started_as_the_command() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def _started_as_the_command():
    if sys.argv[0] == "-m":  # while ``python -m NAME`` imports NAME
        after = sys.orig_argv[sys.orig_argv.index("-m") + 1:] if "-m" in sys.orig_argv else []
        return after[:1] == ["anime_gan"]
    clone = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return (os.path.basename(sys.argv[0]) == "anime-gan"
            or os.path.abspath(sys.argv[0]) == os.path.join(clone, "main.py"))

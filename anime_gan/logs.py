"""Where the library's messages go: absl's handler on the command line, the cell in IPython,
stderr in a plain script.

The library logs through the standard ``logging`` module under the ``anime_gan`` logger
(which data it trains on, where the run goes, that it resumed, each checkpoint).  Showing
the records is the application's job: the command line's ``absl.app.run`` puts absl's
handler on the root logger.  A Jupyter kernel has no handler and a root level of WARNING,
so there the messages would be lost.  ``setup()``, which ``import anime_gan`` calls, does
nothing outside IPython (``train`` calls it in a plain script that set up no logging:
``setup_for_a_script``); in IPython (a Jupyter kernel, Colab, Kaggle, the terminal) it:

- lets the ``anime_gan`` logger's INFO records through, unless its level was set already;
- adds a ``FallbackHandler`` to it, which writes a record to stderr only when no other
  handler on the way to the root would handle it.  So a line never shows twice: not after
  the user's ``logging.basicConfig()``, nor after TensorFlow's first absl log call, which
  runs ``basicConfig()`` itself when the root logger has no handler.  The format is
  ``basicConfig``'s, so the lines look the same before and after that happens;
- turns TensorFlow's Python logger down to WARNING (TensorFlow raises it to INFO in
  interactive sessions) and keeps it from also propagating to the root logger when it has
  a handler of its own, which would print each of its warnings twice;
- drops the routine INFO that TensorFlow's own code logs through absl's logger ("Sharding
  callback duration" at every checkpoint), which a user's ``basicConfig(level=INFO)``
  would show.

Everywhere, ``import anime_gan`` drops one TensorFlow warning: "N out of the last N calls to
...TensorFlowTrainer._make_function... triggered tf.function retracing", which every
``train()`` after the fifth in one process (a notebook's cells) would print, since each new
Keras model traces its own training function; other retracing warnings still show.

To silence the library in a notebook: ``logging.getLogger("anime_gan").setLevel("WARNING")``.
TensorFlow's C++ start-up lines are not Python logging; ``TF_CPP_MIN_LOG_LEVEL`` governs them.
"""

import logging
import sys

LOGGER_NAME = "anime_gan"


class FallbackHandler(logging.Handler):
    """Writes a record to ``sys.stderr`` (looked up at each record, as IPython swaps it)
    unless another handler on the record's way to the root logger will handle it."""

    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.setFormatter(logging.Formatter(logging.BASIC_FORMAT))

    def handled_elsewhere(self, record):
        logger = logging.getLogger(record.name)
        while logger is not None:
            for handler in logger.handlers:
                if (handler is not self and not isinstance(handler, logging.NullHandler)
                        and record.levelno >= handler.level):
                    return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False

    def emit(self, record):
        if self.handled_elsewhere(record):
            return
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 -- logging's own convention
            self.handleError(record)


def in_ipython():
    """True inside an IPython shell or kernel.  IPython is looked up, never imported."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def setup(force=False):
    """In IPython (or with ``force``): make the library's messages visible, once each,
    and quiet TensorFlow's Python logger.  Returns whether it configured anything."""
    if not (force or in_ipython()):
        return False
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(handler, FallbackHandler) for handler in logger.handlers):
        logger.addHandler(FallbackHandler())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    _quiet_tensorflow()
    absl_logger = logging.getLogger("absl")
    if not any(isinstance(f, _TensorFlowsRoutineInfo) for f in absl_logger.filters):
        absl_logger.addFilter(_TensorFlowsRoutineInfo())
    return True


def setup_for_a_script():
    """``setup()`` where no one set up logging: a plain ``python`` script, whose root logger
    has no handler, or only the one a bare ``basicConfig()`` makes (absl's first log call
    makes it when the root has none: an ``export_generator`` before ``train``), and whose
    library logger has no level or handler of its own.  ``train`` calls it, so a script
    shows which data trains and where the run goes, as the command line does; an
    application that configures logging before it decides for itself."""
    logger = logging.getLogger(LOGGER_NAME)
    if _root_set_up() or logger.handlers or logger.level != logging.NOTSET:
        return False
    return setup(force=True)


def _root_set_up():
    root = logging.getLogger()
    bare = (len(root.handlers) == 1 and root.level == logging.WARNING
            and type(root.handlers[0]) is logging.StreamHandler
            and root.handlers[0].stream is sys.stderr and root.handlers[0].level == logging.NOTSET
            and getattr(root.handlers[0].formatter, "_fmt", None) == logging.BASIC_FORMAT)
    return bool(root.handlers) and not bare


class _TensorFlowsRoutineInfo(logging.Filter):
    """Drops the INFO records that TensorFlow's code logs through absl's logger.  A filter,
    not a level: TensorFlow resets absl's logger level while it saves."""

    def filter(self, record):
        return record.levelno >= logging.WARNING or not _in_tensorflow(record.pathname)


def _in_tensorflow(path):
    parts = path.replace("\\", "/").split("/")
    return "tensorflow" in parts or "tensorflow_core" in parts


def _quiet_tensorflow():
    if "tensorflow" not in sys.modules:
        return
    tf_logger = sys.modules["tensorflow"].get_logger()  # creates its handler first if due
    if tf_logger.getEffectiveLevel() < logging.WARNING:
        tf_logger.setLevel(logging.WARNING)
    if tf_logger.handlers:
        tf_logger.propagate = False


class _NewModelRetracing(logging.Filter):
    """Drops TensorFlow's retracing warning about Keras's per-model training function."""

    def filter(self, record):
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message
                    and "TensorFlowTrainer._make_function" in message)


def hide_new_model_retracing():
    """Puts ``_NewModelRetracing`` on TensorFlow's Python logger (once)."""
    tf_logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NewModelRetracing) for f in tf_logger.filters):
        tf_logger.addFilter(_NewModelRetracing())

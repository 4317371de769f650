"""The signals that stop a run: each saves a checkpoint first.

Ctrl-C raises ``KeyboardInterrupt`` (Python's own handler); ``sigterm_interrupts`` makes
SIGTERM and SIGHUP raise ``Terminated``, one of its kind.  While a model is fitted,
``StopAtStepEnd`` raises either one where Keras's loop can take it.  ``held`` keeps a
second signal from cutting short the checkpoint that the first one is saving.
"""

import contextlib
import logging
import signal
import threading

import keras

from anime_gan.errors import Terminated

logger = logging.getLogger(__name__)

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))  # no SIGHUP on Windows


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_interrupts():
    """SIGTERM (kill, job schedulers, container stops) and SIGHUP (the terminal or SSH
    session closed) stop training as Ctrl-C does: a checkpoint is saved and
    ``Terminated`` raised.  A SIGHUP that is ignored (``nohup``) stays ignored."""
    def terminate(signum, frame):
        raise Terminated(signal.Signals(signum).name, signum)

    if not _in_main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    numbers = [signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is not None and signal.getsignal(hangup) is signal.SIG_DFL:
        numbers.append(hangup)
    previous = {number: signal.signal(number, terminate) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _stop_signals_handled_by(handler):
    """Inside, ``handler`` takes the stop signals that are not ignored (``nohup``'s SIGHUP
    stays ignored); their handlers are put back after.  Off the main thread, nothing."""
    if not _in_main_thread():
        yield
        return
    previous = {}
    for number in STOP_SIGNALS:
        if signal.getsignal(number) not in (signal.SIG_IGN, None):  # None: not Python's
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, earlier in previous.items():
            signal.signal(number, earlier)


def held():
    """Inside, a stop signal (a second Ctrl-C pressed while the first one's checkpoint is
    being written) does nothing: the stop already under way goes on."""
    return _stop_signals_handled_by(lambda signum, frame: None)


def _stop_exception(signum):
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(signal.Signals(signum).name, signum)


class StopAtStepEnd(keras.callbacks.Callback):
    """Inside ``deferring()``, a stop signal is noted, and raised once the step it landed
    in has ended and every callback has seen that step (the epoch-end callbacks too, the
    checkpoint included, when the step ended an epoch).  Raised the moment it arrives, as
    Python's handlers do, it lands inside TensorFlow's C++ code, which may turn it into a
    ``SystemError`` (no stop checkpoint), or between two callbacks (an epoch with its
    history row but not its TensorBoard metrics).  A second signal stops at once: a step
    that never ends can still be stopped.  Place it last among the callbacks."""

    def __init__(self):
        super().__init__()
        self.signum = None

    @contextlib.contextmanager
    def deferring(self):
        self.signum = None
        with _stop_signals_handled_by(self._note):
            yield
        self._stop_if_signalled()  # noted after the last callback ran (on_train_end)

    def _note(self, signum, frame):
        if self.signum is not None:
            raise _stop_exception(signum)
        self.signum = signum
        try:  # a handler interrupting a write to the same stream cannot write to it
            logger.warning("%s: stopping once the step under way and its callbacks end; a "
                           "second one stops at once", signal.Signals(signum).name)
        except Exception:  # pylint: disable=broad-except
            pass

    def _stop_if_signalled(self):
        if self.signum is not None:
            raise _stop_exception(self.signum)

    def on_epoch_begin(self, epoch, logs=None):
        self._stop_if_signalled()

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 != self.params.get("steps"):  # an epoch's last step ends with it
            self._stop_if_signalled()

    def on_epoch_end(self, epoch, logs=None):
        self._stop_if_signalled()


def stop_name(interrupt):
    """What stopped a run, as its last log line names it."""
    if isinstance(interrupt, Terminated):
        return "Hung up (SIGHUP)" if interrupt.args == ("SIGHUP",) else "Terminated"
    return "Interrupted"


@contextlib.contextmanager
def said_before_training(what_is_left):
    """A stop while a run is prepared (its networks built, its data read and cached, its
    real features measured) says that no training was lost, and what is left."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        logger.warning("%s before training began: %s", stop_name(interrupt), what_is_left)
        raise

"""The signals that stop a run: each saves a checkpoint first.

Ctrl-C raises ``KeyboardInterrupt`` (Python's own handler); ``sigterm_interrupts`` makes
SIGTERM and SIGHUP raise ``Terminated``, one of its kind.  ``held`` keeps a second signal
from cutting short the checkpoint that the first one is saving.
"""

import contextlib
import signal
import threading

from anime_gan.errors import Terminated

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
def held():
    """Inside, a stop signal (a second Ctrl-C pressed while the first one's checkpoint is
    being written) does nothing: the stop already under way goes on."""
    if not _in_main_thread():
        yield
        return
    previous = {}
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, lambda signum, frame: None)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

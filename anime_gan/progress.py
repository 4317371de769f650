"""Keras' progress bar, and log lines that never land on the end of it.

Keras redraws the bar in place (``\\r``) on stdout and ends its line only when the
epoch ends; a log record written to stderr meanwhile would be glued onto the bar.  When
stdout is a file, ``ProgressBar`` writes one line an epoch instead (Keras's ``verbose=2``).
``ProgressBar`` is Keras' ``ProgbarLogger`` that records whether its line is open,
and ``EndProgressLine``, a filter on a logging handler, ends that line first.  The
bar then goes on drawing on the line below the message.
"""

import contextlib
import logging
import os
import stat
import sys

import keras


class ProgressBar(keras.callbacks.ProgbarLogger):
    """Keras' per-epoch progress bar (place it first, so an epoch's bar is complete
    before other callbacks log at the epoch's end)."""

    line_open = False  # one bar is drawn at a time, so one flag for the process

    def __init__(self, total_epochs=None, state=None):
        """``state``: the run's ``TrainingState``, by which an epoch begun before a stop
        is shown as resumed, with the steps it had taken."""
        super().__init__()
        self.total_epochs, self.state = total_epochs, state

    def set_params(self, params):
        """The run's epochs in each "Epoch N/M" line: a run resumed mid-epoch finishes
        that epoch in a fit of its own, whose ``epochs`` end with it."""
        super().set_params(params)
        if self.total_epochs:
            self.epochs = max(self.epochs, self.total_epochs)
        if self.verbose == 1 and into_a_file():
            self.verbose = 2  # a log file: one line an epoch, not each redraw and its colours

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        done = self.state.steps_into_epoch if self.state is not None else 0
        if done and self.verbose and self.target:
            message = (f"Resuming epoch {epoch + 1} after its step {done} of "
                       f"{done + self.target}: the bar counts the {self.target} step(s) left")
            if keras.config.is_interactive_logging_enabled():  # where Keras prints the bar
                print(message, flush=True)
            else:
                logging.getLogger(__name__).info(message)

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.verbose == 1:
            ProgressBar.line_open = True

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        ProgressBar.line_open = False

    def on_train_end(self, logs=None):
        end_line()  # training stopped mid-epoch (a NaN loss, Ctrl-C): what follows starts anew


def into_a_file():
    """Whether stdout is a file (``> train.log``, nohup, a job scheduler's log), where the
    bar's redraws would pile up in one long line.  A pipe may be a notebook's ``!anime-gan``
    cell, which draws them in place like a terminal."""
    try:
        return stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
    except (AttributeError, ValueError, OSError):  # no stdout, or no file descriptor
        return False


def end_line():
    """Ends the progress bar's line if it is open."""
    if ProgressBar.line_open:
        ProgressBar.line_open = False
        sys.stdout.write("\n")
        sys.stdout.flush()


class EndProgressLine(logging.Filter):
    """Add to a logging handler: a record ends the progress bar's open line first."""

    def filter(self, record):
        end_line()
        return True


class _ClosedPipeSafe:
    """A stdout whose reader may go away (``anime-gan ... | head``): from then on its
    output goes to /dev/null, instead of a BrokenPipeError stopping training."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # The file descriptor too: Python flushes stdout again when it exits.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        self._stream = open(os.devnull, "w")  # noqa: SIM115 -- kept for the process

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def surviving_a_closed_stdout():
    """Inside, writing to ``sys.stdout`` never raises BrokenPipeError (see ``_ClosedPipeSafe``)."""
    previous = sys.stdout
    sys.stdout = _ClosedPipeSafe(previous)
    try:
        yield
    finally:
        sys.stdout = previous

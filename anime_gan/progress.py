"""Keras' progress bar, and log lines that never land on the end of it.

Keras redraws the bar in place (``\\r``) on stdout and ends its line only when the
epoch ends; a log record written to stderr meanwhile would be glued onto the bar.
``ProgressBar`` is Keras' ``ProgbarLogger`` that records whether its line is open,
and ``EndProgressLine``, a filter on a logging handler, ends that line first.  The
bar then goes on drawing on the line below the message.
"""

import logging
import sys

import keras


class ProgressBar(keras.callbacks.ProgbarLogger):
    """Keras' per-epoch progress bar (place it first, so an epoch's bar is complete
    before other callbacks log at the epoch's end)."""

    line_open = False  # one bar is drawn at a time, so one flag for the process

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.verbose == 1:
            ProgressBar.line_open = True

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        ProgressBar.line_open = False

    def on_train_end(self, logs=None):
        end_line()  # training stopped mid-epoch (a NaN loss, Ctrl-C): what follows starts anew


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

"""A stop signal during model.fit is raised where Keras's loop can take it: once the step it
landed in has ended and every callback has seen that step (and the epoch's end, when the
step was an epoch's last)."""

import signal

import keras
import numpy as np
import pytest

from anime_gan import stop_signals, train
from anime_gan.errors import Terminated
from conftest import history_epochs, restored_state, tensorboard_steps


class Recorder(keras.callbacks.Callback):
    """Records the callback events it sees; sends ``signals`` as step ``at`` (epoch,
    batch) begins, i.e. while that step runs."""

    def __init__(self, at=None, signals=()):
        super().__init__()
        self.at, self.signals, self.events = at, signals, []
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            for number in self.signals:
                signal.raise_signal(number)

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", self.epoch, batch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch))


def fit_tiny_model(recorder):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stopper = stop_signals.StopAtStepEnd()
    x = np.zeros((12, 2), np.float32)
    with stop_signals.sigterm_interrupts(), stopper.deferring():
        model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0,
                  callbacks=[recorder, stopper])


@pytest.mark.parametrize("number, stop", [(signal.SIGTERM, Terminated),
                                          (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_mid_epoch_stops_once_its_step_has_ended(number, stop):
    recorder = Recorder(at=(0, 1), signals=[number])
    with pytest.raises(stop) as stopped:
        fit_tiny_model(recorder)
    assert recorder.events == [("epoch_begin", 0), ("batch_end", 0, 0), ("batch_end", 0, 1)]
    if number == signal.SIGTERM:
        assert stopped.value.exit_status == 143
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_in_an_epochs_last_step_stops_after_the_epochs_end():
    recorder = Recorder(at=(0, 2), signals=[signal.SIGTERM])
    with pytest.raises(Terminated):
        fit_tiny_model(recorder)
    assert recorder.events[-2:] == [("batch_end", 0, 2), ("epoch_end", 0)]


def test_a_second_signal_stops_at_once():
    recorder = Recorder(at=(0, 1), signals=[signal.SIGTERM, signal.SIGINT])
    with pytest.raises(KeyboardInterrupt) as stopped:
        fit_tiny_model(recorder)
    assert not isinstance(stopped.value, Terminated)  # the second signal's own
    assert recorder.events == [("epoch_begin", 0), ("batch_end", 0, 0)]


def test_an_ignored_signal_stays_ignored_while_deferring():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command
    try:
        recorder = Recorder(at=(0, 1), signals=[signal.SIGHUP])
        fit_tiny_model(recorder)  # trains to the end
        assert recorder.events[-1] == ("epoch_end", 1)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_signal_after_the_last_callback_still_stops():
    stopper = stop_signals.StopAtStepEnd()
    with pytest.raises(Terminated):
        with stop_signals.sigterm_interrupts(), stopper.deferring():
            signal.raise_signal(signal.SIGTERM)  # noted, e.g. during on_train_end
            assert stopper.signum == signal.SIGTERM


@pytest.mark.long
def test_a_sigterm_in_an_epochs_last_step_keeps_that_epochs_records(image_folder, tmp_path,
                                                                     caplog):
    run = tmp_path / "run"
    settings = dict(model="dcgan", epochs=2, steps_per_epoch=2, batch_size=4,
                    checkpoint_every=0, data_dir=image_folder, output_dir=str(run))
    with pytest.raises(Terminated):
        train(**settings, callbacks=[Recorder(at=(0, 1), signals=[signal.SIGTERM])])
    assert "Terminated: saved" in caplog.text
    state = restored_state(run)
    assert (state.step, int(state.epoch)) == (2, 1)  # the epoch ended before the stop
    assert history_epochs(run) == [1]
    assert tensorboard_steps(run / "logs" / "train")["epoch_d_loss"] == [1]
    caplog.clear()
    train(**settings)
    assert "before the stop" not in caplog.text
    assert history_epochs(run) == [1, 2]
    steps = tensorboard_steps(run / "logs" / "train")
    assert steps["epoch_d_loss"] == [1, 2] and steps["batch_d_loss"] == [1, 2, 3, 4]

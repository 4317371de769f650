"""train(): one Python call that fits a GAN into a run folder, resumes it exactly, and
stops on faults without losing the files written before."""

import errno
import os
import pathlib
import signal
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import anime_gan
from anime_gan import history, stop_signals, train, training
from anime_gan.errors import ArtifactWriteError, NonFiniteLossError, Terminated
from anime_gan.images import to_uint8
from conftest import history_epochs, restored_state, run_on_one_thread, tensorboard_steps


@pytest.mark.long
def test_train_is_one_python_call(image_folder, tmp_path):
    epochs_seen = []
    one_callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: epochs_seen.append(e))
    gan = train(model="wgan", epochs=1, steps_per_epoch=1, batch_size=4, n_critic=2,
                data_dir=pathlib.Path(image_folder), output_dir=tmp_path / "run",
                callbacks=one_callback)
    assert int(gan.d_optimizer.iterations) == 2 and int(gan.g_optimizer.iterations) == 1
    assert epochs_seen == [0]
    images = np.asarray(gan.generate(3))
    assert images.shape == (3, 64, 64, 3) and np.all(np.abs(images) <= 1)
    assert (tmp_path / "run" / "samples" / "epoch_0001.png").is_file()


@pytest.mark.long
def test_ema_run_samples_exports_and_reloads_the_average(image_folder, tmp_path):
    out = tmp_path / "run"
    gan = anime_gan.train(model="dcgan", epochs=1, steps_per_epoch=2, batch_size=4,
                          ema_decay=0.5, data_dir=image_folder, output_dir=str(out))
    assert (out / "generator_ema.keras").is_file() and (out / "generator.keras").is_file()
    latents = np.random.default_rng(0).normal(size=(3, 128)).astype(np.float32)
    expected = np.asarray(gan.ema_generator(latents, training=False))
    assert not np.allclose(expected, np.asarray(gan.generator(latents, training=False)))
    loaded = anime_gan.load_generator(str(out))  # from the checkpoint
    np.testing.assert_allclose(np.asarray(loaded(latents, training=False)), expected, atol=1e-5)
    saved = keras.models.load_model(out / "generator_ema.keras")
    np.testing.assert_allclose(np.asarray(saved(latents, training=False)), expected, atol=1e-5)
    served = tf.saved_model.load(str(out / "export")).signatures["serving_default"](
        latents=tf.constant(latents))["images"].numpy()
    assert np.abs(served.astype(int) - np.asarray(to_uint8(expected)).astype(int)).max() <= 1


@pytest.mark.long
def test_resize_conv_run_trains_and_reloads(image_folder, tmp_path):
    out = tmp_path / "run"
    gan = anime_gan.train(model="wgan", epochs=1, steps_per_epoch=1, batch_size=4, n_critic=1,
                          upsampling="resize_conv", data_dir=image_folder, output_dir=str(out))
    latents = np.random.default_rng(0).normal(size=(2, 128)).astype(np.float32)
    loaded = anime_gan.load_generator(str(out))
    assert any(type(l).__name__ == "UpSampling2D" for l in loaded.layers)
    np.testing.assert_allclose(np.asarray(loaded(latents)),
                               np.asarray(gan.sampling_generator(latents)), atol=1e-5)


class AtStep(keras.callbacks.Callback):
    """Calls ``action(model)`` after the generator step ``step`` (for fault injection)."""

    def __init__(self, step, action):
        super().__init__()
        self.step = step
        self.action = action

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations) == self.step:
            self.action(self.model)


def interrupt_at(step):
    """A callback raising KeyboardInterrupt after ``step``, like Ctrl-C."""
    def press_ctrl_c(model):
        raise KeyboardInterrupt
    return AtStep(step, press_ctrl_c)


def resume_settings(model, data_dir):
    return dict(model=model, epochs=2, steps_per_epoch=3, batch_size=4, n_critic=2,
                seed=5, data_dir=data_dir, checkpoint_every=0)


def resumed_run(model, interrupt_at_step, data_dir, output_dir):
    """The GAN of a run stopped by Ctrl-C after ``interrupt_at_step``, then run again."""
    settings = resume_settings(model, data_dir)
    with pytest.raises(KeyboardInterrupt):
        train(output_dir=output_dir, callbacks=[interrupt_at(interrupt_at_step)], **settings)
    return train(output_dir=output_dir, **settings)


def final_state(gan):
    """{name: array}: the optimizers' step counts and every network weight, in order."""
    state = {"g_iterations": int(gan.g_optimizer.iterations),
             "d_iterations": int(gan.d_optimizer.iterations)}
    for network in ("generator", "discriminator"):
        for i, weight in enumerate(getattr(gan, network).weights):
            state[f"{network}/{i:03d}/{weight.path}"] = weight.numpy()
    return state


@pytest.fixture(scope="module")
def unbroken_run(session_data, tmp_path_factory):
    """unbroken_run(model): the final state of an uninterrupted run, trained once per model."""
    runs = {}

    def run(model):
        if model not in runs:
            out = tmp_path_factory.mktemp(f"unbroken-{model}")
            runs[model] = final_state(train(output_dir=str(out),
                                            **resume_settings(model, session_data)))
        return runs[model]
    return run


ONE_THREAD_RUNS = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, "tests")
    from anime_gan import train
    from test_training import final_state, resume_settings, resumed_run
    model, step, data_dir, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    unbroken = final_state(train(output_dir=out + "/unbroken", **resume_settings(model, data_dir)))
    resumed = final_state(resumed_run(model, step, data_dir, out + "/resumed"))
    np.savez(out + "/unbroken.npz", **unbroken)
    np.savez(out + "/resumed.npz", **resumed)
""")


def one_thread_runs(model, interrupt_at_step, data_dir, out):
    """(unbroken, resumed) final states, both trained in one child process on one thread,
    where the arithmetic is the same from run to run, bit for bit."""
    result = run_on_one_thread(ONE_THREAD_RUNS, model, str(interrupt_at_step), data_dir,
                               str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return [dict(np.load(out / f"{run}.npz")) for run in ("unbroken", "resumed")]


# Mid-epoch (dcgan 4, wgan 2) and after an epoch's last step, before its end (dcgan 3,
# slow: the default suite keeps a DCGAN and a WGAN-GP case within its time budget).
@pytest.mark.long
@pytest.mark.parametrize("model, interrupt_at_step", [
    ("dcgan", 4), ("wgan", 2), pytest.param("dcgan", 3, marks=pytest.mark.slow)])
def test_interrupted_and_resumed_run_matches_uninterrupted(model, interrupt_at_step, session_data,
                                                           unbroken_run, tmp_path):
    """Same seed: the resumed run ends with the same weights as an unbroken one.

    The data stream, latent seed generator, optimizers and batch-norm statistics are
    all restored, so the two runs take the same steps on the same images. They agree
    to float32 round-off (atol 1e-5): oneDNN's threaded kernels need not add in the
    same order in two processes or two traces.  Adam turns that round-off into a whole
    step (up to the learning rate) where a gradient is near zero and its sign flips, so
    a few elements may differ by that much: at most 2% of each weight, and at most 1e-3
    (a resumed run that took other steps differs in most elements).

    The WGAN-GP's Adam (beta1 = 0) steps nearly every weight by about one learning rate
    whichever the size of its gradient, so there a round-off difference grows within six
    steps into whole steps in most elements (measured: 84% of the generator's first kernel
    beyond 1e-5 after the same run on one thread and on two).  Its two runs are made in
    one single-threaded child process, which repeats them bit for bit.
    """
    if model == "wgan":
        unbroken, resumed = one_thread_runs(model, interrupt_at_step, session_data, tmp_path)
    else:
        unbroken = unbroken_run(model)
        resumed = final_state(resumed_run(model, interrupt_at_step, session_data,
                                          str(tmp_path / "resumed")))

    assert resumed.keys() == unbroken.keys()
    assert resumed["g_iterations"] == unbroken["g_iterations"] == 6
    assert resumed["d_iterations"] == unbroken["d_iterations"]
    for name in unbroken.keys() - {"g_iterations", "d_iterations"}:
        difference = np.abs(unbroken[name] - resumed[name])
        assert np.mean(difference > 1e-5) <= 0.02, name
        assert difference.max() <= 1e-3, name
    # A stop between an epoch's last step and its end loses that epoch's history row.
    expected_history = [2] if interrupt_at_step == 3 else [1, 2]
    assert history_epochs(tmp_path / "resumed") == expected_history
    # TensorBoard has every generator step once, the last one before the stop included,
    # and each epoch's metrics under the epoch's number.
    logged = tensorboard_steps(tmp_path / "resumed" / "logs" / "train")
    assert logged["batch_g_loss"] == [1, 2, 3, 4, 5, 6]
    assert logged["epoch_g_loss"] == expected_history


@pytest.mark.slow
def test_a_resume_with_fewer_steps_per_epoch_than_taken_ends_that_epoch(session_data, tmp_path):
    """Stopped after 4 steps of a 6-step epoch, resumed with --steps_per_epoch=3: the
    epoch has its steps, so it ends at once, with its grid, networks and checkpoint (but
    no history row), and the run goes on from there instead of stopping at it forever."""
    settings = dict(model="dcgan", batch_size=4, seed=5, data_dir=session_data,
                    output_dir=str(tmp_path / "run"), checkpoint_every=0)
    with pytest.raises(KeyboardInterrupt):
        train(epochs=1, steps_per_epoch=6, callbacks=[interrupt_at(4)], **settings)
    gan = train(epochs=1, steps_per_epoch=3, **settings)
    assert gan.generator_steps == 4
    state = restored_state(tmp_path / "run")
    assert int(state.epoch) == 1 and state.step == 4
    assert (tmp_path / "run" / "samples" / "epoch_0001.png").is_file()
    saved = keras.models.load_model(tmp_path / "run" / "generator.keras")
    np.testing.assert_allclose(saved.get_weights()[0], gan.generator.get_weights()[0])
    assert not (tmp_path / "run" / "history.csv").exists()  # no epoch has metrics yet
    gan = train(epochs=2, steps_per_epoch=3, **settings)
    assert gan.generator_steps == 7 and history_epochs(tmp_path / "run") == [2]


# Slow (the default suite's budget): test_stop_signals keeps a stop in an epoch's last step.
@pytest.mark.slow
def test_a_stop_after_an_epochs_history_row_keeps_that_row_on_resume(session_data, tmp_path,
                                                                      caplog):
    """Stopped during the end-of-epoch work (after history.csv and TensorBoard, before the
    epoch's checkpoint): the checkpoint has the epoch's steps, not its end, and the resume
    ends that epoch keeping the metrics written before the stop, in history.csv and
    TensorBoard, each once."""
    class StopAtTheFirstEpochsEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise Terminated()

    run = tmp_path / "run"
    settings = dict(model="dcgan", batch_size=4, seed=5, data_dir=session_data, epochs=2,
                    steps_per_epoch=2, output_dir=str(run), checkpoint_every=0)
    with pytest.raises(Terminated):
        train(callbacks=[StopAtTheFirstEpochsEnd()], **settings)
    state = restored_state(run)
    assert (int(state.epoch), state.step) == (0, 2)
    row = (run / "history.csv").read_text().splitlines()[1]
    train(**settings)
    assert "it ends now, with the history row written before the stop" in caplog.text
    assert (run / "history.csv").read_text().splitlines()[1] == row
    assert history_epochs(run) == [1, 2]
    logged = tensorboard_steps(run / "logs" / "train")
    assert logged["epoch_d_loss"] == [1, 2] and logged["batch_d_loss"] == [1, 2, 3, 4]
    assert tensorboard_steps(run / "logs" / "samples")["samples"] == [1, 2]


@pytest.mark.slow
def test_the_step_a_stop_lands_on_as_it_returns_is_in_tensorboard_once(session_data, tmp_path,
                                                                         monkeypatch):
    """Ctrl-C lands as step 2 returns, before any callback sees its metrics (since stops
    wait for a step's callbacks, only a second Ctrl-C can): the step is checkpointed, and
    TensorBoard has it too (no gap at the step the resume starts from)."""
    from anime_gan import callbacks

    def ctrl_c_as_step_2_returns(self, batch, logs=None):
        if self.model.generator_steps == 2 and not stopped:
            stopped.append(True)
            raise KeyboardInterrupt

    stopped = []
    monkeypatch.setattr(callbacks.StopOnNonFiniteLoss, "on_train_batch_end",
                        ctrl_c_as_step_2_returns)  # the first callback after the step
    run = tmp_path / "run"
    settings = dict(model="dcgan", batch_size=4, seed=5, data_dir=session_data, epochs=1,
                    steps_per_epoch=4, output_dir=str(run), checkpoint_every=0)
    with pytest.raises(KeyboardInterrupt):
        train(**settings)
    assert restored_state(run).step == 2
    assert tensorboard_steps(run / "logs" / "train")["batch_g_loss"] == [1, 2]
    train(**settings)
    assert tensorboard_steps(run / "logs" / "train")["batch_g_loss"] == [1, 2, 3, 4]


def poison_generator_at(step):
    """A callback setting one generator kernel to NaN after ``step``, as a diverging update would."""
    def poison(model):
        kernel = model.generator.get_layer("project").kernel
        kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    return AtStep(step, poison)


@pytest.mark.long
def test_a_run_stopped_in_its_first_epoch_has_keras_files_matching_its_checkpoint(
        image_folder, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(model="dcgan", epochs=1, steps_per_epoch=3, batch_size=4, ema_decay=0.5,
              checkpoint_every=0, data_dir=image_folder, output_dir=out,
              callbacks=[interrupt_at(2)])
    assert not (out / "samples").exists() or not os.listdir(out / "samples")  # no epoch ended
    state = restored_state(out)
    assert state.step == 2
    for name, network in [("generator", state.gan.generator),
                          ("discriminator", state.gan.discriminator),
                          ("generator_ema", state.gan.ema_generator)]:
        saved = keras.models.load_model(out / f"{name}.keras")
        for got, want in zip(saved.weights, network.weights, strict=True):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)


def settings(image_folder, tmp_path, **overrides):
    return dict(model="dcgan", epochs=3, steps_per_epoch=2, batch_size=4,
                data_dir=image_folder, output_dir=str(tmp_path / "run"), **overrides)


@pytest.mark.long
def test_nan_loss_stops_naming_the_step_and_keeps_good_artifacts(image_folder, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"training stopped at step 4: .*nan") as stop:
        anime_gan.train(callbacks=[poison_generator_at(3)],
                        **settings(image_folder, tmp_path, checkpoint_every=0))
    assert f"run the same command (with --output_dir={run}) to resume" in str(stop.value)
    state = restored_state(run)
    assert state.step == 2 and int(state.epoch) == 1  # the end of epoch 1
    assert all(np.all(np.isfinite(w.numpy())) for w in state.gan.generator.weights)
    generator = keras.models.load_model(run / "generator.keras")
    assert all(np.all(np.isfinite(w.numpy())) for w in generator.weights)
    assert history_epochs(run) == [1]
    assert sorted(os.listdir(run / "samples")) == ["epoch_0001.png"]


@pytest.mark.long
def test_checkpoint_refuses_nan_weights(image_folder, tmp_path):
    # With a checkpoint due at the poisoned step itself, the save is refused.
    with pytest.raises(NonFiniteLossError, match="NaN or infinite at step 3; not saving"):
        anime_gan.train(callbacks=[poison_generator_at(3)],
                        **settings(image_folder, tmp_path, checkpoint_every=1))
    assert restored_state(tmp_path / "run").step == 2


@pytest.mark.long
def test_full_disk_while_writing_a_sample_keeps_earlier_files(image_folder, tmp_path,
                                                               monkeypatch):
    run = tmp_path / "run"
    real_save_img = keras.utils.save_img

    def save_img(path, *args, **kwargs):
        if "epoch_0002" in str(path):
            with open(path, "wb") as f:
                f.write(b"half a png")  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save_img(path, *args, **kwargs)

    monkeypatch.setattr(keras.utils, "save_img", save_img)
    with pytest.raises(ArtifactWriteError,
                       match=r"epoch_0002.png: No space left on device; the files written before"):
        anime_gan.train(**settings(image_folder, tmp_path))
    assert sorted(os.listdir(run / "samples")) == ["epoch_0001.png"]
    assert keras.utils.load_img(run / "samples" / "epoch_0001.png").size == (512, 512)
    assert not [p for _, _, files in os.walk(run) for p in files if p.startswith(".tmp")]
    assert restored_state(run).step == 2


@pytest.mark.long
def test_failed_checkpoint_write_is_reported(image_folder, tmp_path, monkeypatch):
    def failing_save(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", failing_save)
    with pytest.raises(ArtifactWriteError, match="could not write a checkpoint .*Read-only"):
        anime_gan.train(**settings(image_folder, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["wgan_clip", "sngan"])
def test_variants_train_resume_and_reload_with_every_option(model, image_folder, tmp_path):
    """EMA, DiffAugment, bfloat16 and 128x128 together; then a resume and a reload."""
    settings = dict(model=model, steps_per_epoch=1, batch_size=4, n_critic=2, image_size=128,
                    mixed_precision="bfloat16", diffaugment="color,translation,cutout",
                    ema_decay=0.9, data_dir=image_folder, output_dir=str(tmp_path / "run"))
    train(epochs=1, **settings)
    gan = train(epochs=2, **settings)
    assert gan.generator_steps == 2 and history_epochs(tmp_path / "run") == [1, 2]
    latents = np.random.default_rng(0).normal(size=(2, 128)).astype(np.float32)
    loaded = anime_gan.load_generator(str(tmp_path / "run"))
    assert loaded.output_shape == (None, 128, 128, 3)
    np.testing.assert_allclose(np.asarray(loaded(latents)),
                               np.asarray(gan.ema_generator(latents)), atol=2e-2)


def test_sighup_stops_training_like_sigterm_unless_nohup_ignores_it():
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with stop_signals.sigterm_interrupts():
            with pytest.raises(Terminated) as stopped:
                signal.raise_signal(signal.SIGHUP)
        assert stopped.value.exit_status == 129 and str(stopped.value) == "SIGHUP"
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command
        with stop_signals.sigterm_interrupts():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)  # ignored: nothing happens
        assert Terminated().exit_status == 143
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_stop_signals_are_held_while_the_first_stop_saves():
    with stop_signals.sigterm_interrupts():
        with stop_signals.held():
            signal.raise_signal(signal.SIGINT)  # a second Ctrl-C: noted, not raised
            signal.raise_signal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C stops again once the save is done
            signal.raise_signal(signal.SIGINT)
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)


@pytest.mark.long
def test_a_second_ctrl_c_while_the_first_saves_still_gets_its_checkpoint(image_folder, tmp_path,
                                                                        monkeypatch, caplog):
    save = training.TrainingState.save

    def save_while_ctrl_c_is_pressed_again(state):
        signal.raise_signal(signal.SIGINT)
        return save(state)

    monkeypatch.setattr(training.TrainingState, "save", save_while_ctrl_c_is_pressed_again)
    with pytest.raises(KeyboardInterrupt):
        train(**settings(image_folder, tmp_path, checkpoint_every=0),
              callbacks=[interrupt_at(1)])
    assert "Interrupted: saved" in caplog.text
    assert restored_state(tmp_path / "run").step == 1



@pytest.mark.long
def test_what_a_user_callback_changes_at_a_step_is_in_that_steps_checkpoint(image_folder,
                                                                            tmp_path):
    def zero_the_first_kernel(model):
        kernel = model.generator.weights[0]
        kernel.assign(tf.zeros_like(kernel))

    with pytest.raises(KeyboardInterrupt):
        train(**settings(image_folder, tmp_path, checkpoint_every=1),
              callbacks=[AtStep(2, zero_the_first_kernel), interrupt_at(2)])
    state = restored_state(tmp_path / "run")
    assert state.step == 2 and not np.any(state.gan.generator.weights[0].numpy())


class CallbackBug(Exception):
    """What a caller's callback with a bug raises."""


def fail_at_the_end_of_epoch(epoch):
    def end_epoch(finished, logs=None):
        if finished + 1 == epoch:
            raise CallbackBug(f"end of epoch {epoch}")
    return keras.callbacks.LambdaCallback(on_epoch_end=end_epoch)


# Slow (the default suite's budget): a callback failing before the first step stays.
@pytest.mark.slow
def test_a_callback_that_raises_between_steps_has_the_steps_taken_saved(image_folder, tmp_path,
                                                                        caplog):
    def bug(model):
        raise CallbackBug("step 3")

    run = tmp_path / "run"
    with pytest.raises(CallbackBug, match="step 3"):
        train(**settings(image_folder, tmp_path, checkpoint_every=0), callbacks=[AtStep(3, bug)])
    assert "A callback raised CallbackBug at step 3: saved" in caplog.text
    state = restored_state(run)
    assert state.step == 3 and int(state.epoch) == 1  # mid-epoch 2; the last checkpoint was 2
    saved = keras.models.load_model(run / "generator.keras")  # the .keras files match it
    for kept, restored in zip(saved.weights, state.gan.generator.weights):
        np.testing.assert_array_equal(kept.numpy(), restored.numpy())
    train(**settings(image_folder, tmp_path, checkpoint_every=0))
    assert restored_state(run).step == 6 and history_epochs(run) == [1, 2, 3]


@pytest.mark.slow  # the default suite's time budget
@pytest.mark.parametrize("step", [3, 4])  # mid-epoch 2, and after its last step
def test_a_callback_that_raises_over_nan_weights_keeps_its_exception_and_the_good_checkpoint(
        image_folder, tmp_path, caplog, step):
    def poison_then_fail(model):
        kernel = model.generator.get_layer("project").kernel
        kernel.assign(np.full(kernel.shape, np.nan, np.float32))
        raise CallbackBug("after NaN")

    with pytest.raises(CallbackBug, match="after NaN"):
        train(**settings(image_folder, tmp_path, checkpoint_every=0),
              callbacks=[AtStep(step, poison_then_fail)])
    assert f"A callback raised CallbackBug at step {step}: not saved (the weights are NaN" \
        in caplog.text
    assert restored_state(tmp_path / "run").step == 2  # the end of epoch 1, as it was
    assert history_epochs(tmp_path / "run") == [1]  # no row for an epoch the run does not keep


@pytest.mark.slow  # the default suite's time budget
def test_a_callback_that_raises_at_an_epochs_end_keeps_that_epochs_steps_and_row(image_folder,
                                                                                tmp_path):
    run = tmp_path / "run"
    with pytest.raises(CallbackBug):
        train(**settings(image_folder, tmp_path, checkpoint_every=0),
              callbacks=[fail_at_the_end_of_epoch(2)])
    first_rows = (run / "history.csv").read_text()
    state = restored_state(run)
    assert state.step == 4 and int(state.epoch) == 1  # epoch 2's steps, not its end
    assert history_epochs(run) == [1, 2]
    train(**settings(image_folder, tmp_path, checkpoint_every=0))
    assert history_epochs(run) == [1, 2, 3] and restored_state(run).step == 6
    assert (run / "history.csv").read_text().startswith(first_rows)


@pytest.mark.slow  # the default suite's time budget
def test_a_callback_that_raises_after_an_epochs_last_step_keeps_that_epochs_row(image_folder,
                                                                              tmp_path):
    """Its metrics are the running means the step gave, as the epoch's end would have
    logged them; the resume ends the epoch with that row, as after Ctrl-C."""
    seen = {}

    class FailAfterStep4(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.generator_steps == 4:
                seen.update({k: float(v) for k, v in logs.items()})
                raise CallbackBug("step 4")

    run = tmp_path / "run"
    with pytest.raises(CallbackBug):
        train(**settings(image_folder, tmp_path, checkpoint_every=0),
              callbacks=[FailAfterStep4()])
    assert restored_state(run).step == 4 and history_epochs(run) == [1, 2]
    row = history.read_rows(run / "history.csv")[1]
    assert {k: float(v) for k, v in row.items() if k != "epoch"} == pytest.approx(seen)
    first_rows = (run / "history.csv").read_text()
    train(**settings(image_folder, tmp_path, checkpoint_every=0))
    assert history_epochs(run) == [1, 2, 3] and restored_state(run).step == 6
    assert (run / "history.csv").read_text().startswith(first_rows)


def test_the_row_of_an_epoch_ended_by_a_callbacks_failure_is_written_once(tmp_path):
    from anime_gan import callbacks

    class Means:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    class Gan:
        trackers = {"d_loss": Means(0.5), "g_loss": Means(2.0)}

    csv_path = tmp_path / "history.csv"
    history.append_epoch(csv_path, 1, {"d_loss": 0.25, "g_loss": 1.0})
    listed = [callbacks.HistoryCSV(csv_path), callbacks.HistoryPlots(csv_path, tmp_path)]
    callbacks.keep_the_row_of_an_ended_epoch(Gan(), 1, listed)
    assert history.read_history(csv_path) == {"epoch": [1, 2], "d_loss": [0.25, 0.5],
                                              "g_loss": [1.0, 2.0]}
    assert (tmp_path / "losses.png").is_file()
    Gan.trackers = {"d_loss": Means(9.0), "g_loss": Means(9.0)}  # written already: kept
    callbacks.keep_the_row_of_an_ended_epoch(Gan(), 1, listed)
    assert history.read_history(csv_path)["d_loss"] == [0.25, 0.5]


def test_the_marks_around_the_callers_callbacks_tell_when_one_of_them_runs():
    from anime_gan.callbacks import CallersCallbacks

    callers = CallersCallbacks()
    seen = []
    mine = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, l: seen.append(callers.inside))
    listed = [*callers.around([mine])]
    assert callers.around([]) == []
    for callback in listed:
        callback.on_train_batch_end(0, {})
    assert seen == [True] and not callers.inside
    listed[0].on_epoch_end(0)  # a caller's callback raising here leaves it set
    assert callers.inside


@pytest.mark.slow
def test_a_kept_history_row_gets_its_missing_tensorboard_metrics_on_resume(session_data,
                                                                           tmp_path, monkeypatch):
    """Killed after an epoch's history row, before TensorBoard logged that epoch: the
    resume logs the row's metrics, so TensorBoard and history.csv agree."""
    from anime_gan import callbacks

    on_epoch_end = callbacks.StepTensorBoard.on_epoch_end

    def killed_before_the_first_epochs_metrics(self, epoch, logs=None):
        if epoch == 0:
            raise Terminated()
        on_epoch_end(self, epoch, logs)

    run = tmp_path / "run"
    settings = dict(model="dcgan", batch_size=4, seed=5, data_dir=session_data, epochs=2,
                    steps_per_epoch=2, output_dir=str(run), checkpoint_every=0)
    with monkeypatch.context() as patch:
        patch.setattr(callbacks.StepTensorBoard, "on_epoch_end",
                      killed_before_the_first_epochs_metrics)
        with pytest.raises(Terminated):
            train(**settings)
    assert "epoch_d_loss" not in tensorboard_steps(run / "logs" / "train")
    train(**settings)
    assert history_epochs(run) == [1, 2]
    assert tensorboard_steps(run / "logs" / "train")["epoch_d_loss"] == [1, 2]


def test_a_stop_before_training_begins_says_that_nothing_was_lost(image_folder, tmp_path,
                                                                   trained_run, monkeypatch,
                                                                   caplog):
    """Ctrl-C while the data is read (minutes for a large folder) ends with a line, not in
    silence: a new run has nothing to lose, a continued one keeps its checkpoint."""
    def stopped_while_reading(*args, **kwargs):
        raise stop
    monkeypatch.setattr(training, "make_stream", stopped_while_reading)
    stop = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        train(epochs=1, steps_per_epoch=1, batch_size=4, data_dir=image_folder,
              output_dir=tmp_path / "new")
    assert (f"Interrupted before training began: nothing was trained; run the same command "
            f"(with --output_dir={tmp_path / 'new'}) again") in caplog.text
    assert not (tmp_path / "new" / "config.json").exists()

    before = restored_state(trained_run).step
    saved = (trained_run / "config.json").read_text()
    stop = Terminated()
    with pytest.raises(Terminated):
        train(output_dir=trained_run, epochs=3, g_lr=1e-3)
    assert (f"Terminated before training began: {trained_run} keeps its last checkpoint; run "
            "the same command") in caplog.text
    assert restored_state(trained_run).step == before and history_epochs(trained_run) == [1, 2]
    assert (trained_run / "config.json").read_text() == saved  # no change that never trained


def test_a_stop_while_the_real_features_are_measured_records_no_settings(
        image_folder, tmp_path, tiny_backbone, monkeypatch, caplog):
    """--eval_every measures the real images' features before training (minutes for a
    large sample): a stop there leaves no config.json that a retry would be held to."""
    def stopped_while_measuring(*args, **kwargs):
        assert kwargs["say_skipped"] is False  # the training's scan said them
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "real_features", stopped_while_measuring)
    with pytest.raises(KeyboardInterrupt):
        train(epochs=1, steps_per_epoch=1, batch_size=4, data_dir=image_folder,
              eval_every=1, eval_samples=10, backbone=tiny_backbone,
              output_dir=tmp_path / "new")
    assert "Interrupted before training began: nothing was trained" in caplog.text
    assert not (tmp_path / "new" / "config.json").exists()


def test_a_finished_run_given_eval_every_measures_no_real_features(trained_run, tiny_backbone,
                                                                   monkeypatch):
    """Nothing is trained, so no KID is measured, and its real images are not read."""
    def measured(*args, **kwargs):
        raise AssertionError("real features measured for a finished run")
    monkeypatch.setattr(training, "real_features", measured)
    train(output_dir=trained_run, epochs=2, eval_every=1, eval_samples=10,
          backbone=tiny_backbone)
    assert history_epochs(trained_run) == [1, 2]


def test_settings_that_trained_no_kept_step_are_not_the_runs(trained_run, caplog):
    before = (trained_run / "config.json").read_bytes()
    with pytest.raises(anime_gan.TrainingFault):  # NaN, or weights too large to save
        train(output_dir=str(trained_run), epochs=5, g_lr=1e308, d_lr=1e308, live=False)
    assert (trained_run / "config.json").read_bytes() == before
    assert "config.json keeps the settings it had: no step trained with the new ones" in \
        caplog.text
    assert anime_gan.RunFolder(trained_run).read_config().g_lr == 2e-4  # the resume's own


def test_settings_that_trained_a_kept_step_stay_after_a_later_failure(trained_run):
    class FailsInTheFourthEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                raise RuntimeError("a callback's own failure")

    with pytest.raises(RuntimeError, match="a callback's own failure"):
        train(output_dir=str(trained_run), epochs=5, g_lr=1e-5, live=False,
              callbacks=[FailsInTheFourthEpoch()])
    kept = anime_gan.RunFolder(trained_run).read_config()
    assert kept.g_lr == 1e-5 and kept.epochs == 5


def test_a_run_killed_before_it_kept_anything_gives_way_to_other_settings(tmp_path):
    run = tmp_path / "run"
    anime_gan.RunFolder(run).write_config(anime_gan.TrainConfig(output_dir=str(run)))
    (run / "logs" / "train").mkdir(parents=True)  # as TensorBoard leaves it at a kill
    train(output_dir=str(run), model="wgan", n_critic=1, batch_size=4, epochs=1,
          steps_per_epoch=1, live=False)
    settings = anime_gan.RunFolder(run).read_config()
    assert (settings.model, settings.batch_size) == ("wgan", 4)
    assert "changes" not in (run / "config.json").read_text()
    assert history_epochs(run) == [1]


def test_a_callback_failing_before_the_first_step_leaves_a_run_that_kept_nothing(
        tmp_path, caplog):
    class FailsAtTheStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise ValueError("refused at the start")

    run = tmp_path / "run"
    with pytest.raises(ValueError, match="refused at the start"):
        train(output_dir=str(run), batch_size=4, epochs=1, steps_per_epoch=1, live=False,
              callbacks=[FailsAtTheStart()])
    assert "A callback raised ValueError at step 0: nothing to save (no step taken)" in \
        caplog.text
    assert anime_gan.RunFolder(run).kept_nothing()
    train(output_dir=str(run), model="wgan", n_critic=1, batch_size=4, epochs=1,
          steps_per_epoch=1, live=False)  # another model: nothing was trained there
    assert anime_gan.RunFolder(run).read_config().model == "wgan"

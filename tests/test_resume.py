"""Checkpoints and resume: SIGKILL, Ctrl-C, exact continuation, refusing to mix runs."""

import csv
import os
import signal
import time

import numpy as np
import pytest

from anime_gan import checkpoints, train
from anime_gan.artifacts import fixed_latents
from anime_gan.train import build_gan, read_run_config, run_paths
from conftest import AtStep, run_main, start_main


def restored_state(run_dir):
    """The newest checkpoint of a run, loaded into freshly built networks."""
    config = read_run_config(str(run_dir))
    gan = build_gan(config)
    state = checkpoints.TrainingState(gan, fixed_latents(config.latent_dim, 0),
                                      run_paths(str(run_dir))["checkpoints"])
    assert state.restore_latest(), "no checkpoint"
    return state


def history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def checkpoints_written(run_dir):
    index = os.path.join(run_dir, "checkpoints", "checkpoint")
    if not os.path.exists(index):
        return 0
    with open(index) as f:
        return sum(line.startswith("all_model_checkpoint_paths") for line in f)


def wait_for(condition, process, timeout=300):
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, "training ended before the test could stop it"
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkill_mid_run_then_resume_finishes(image_folder, tmp_path):
    out = tmp_path / "run"
    flags = ["--model=dcgan", "--epochs=3", "--steps_per_epoch=6", "--batch_size=4",
             "--checkpoint_every=1", f"--data_dir={image_folder}", f"--output_dir={out}"]
    with open(tmp_path / "first.log", "w") as log:
        process = start_main(*flags, stdout=log)
        # Kill while checkpoints are being written every step, well before the end.
        wait_for(lambda: checkpoints_written(out) >= 3, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = restored_state(out).step
    assert 0 < killed_at < 18

    result = run_main(*flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming" in result.stderr

    state = restored_state(out)
    assert state.step == 18 and int(state.epoch) == 3
    assert int(state.gan.d_optimizer.iterations) == 18
    assert history_epochs(out) == [1, 2, 3]
    assert sorted(os.listdir(out / "samples")) == [f"epoch_{i:04d}.png" for i in (1, 2, 3)]


def test_ctrl_c_saves_a_checkpoint_and_exits(image_folder, tmp_path):
    out = tmp_path / "run"
    with open(tmp_path / "run.log", "w") as log:
        process = start_main("--model=dcgan", "--epochs=1", "--steps_per_epoch=500",
                             "--batch_size=4", "--checkpoint_every=1",
                             f"--data_dir={image_folder}", f"--output_dir={out}", stdout=log)
        # Training has started once the first step's checkpoint is written (however
        # slow the machine); the interrupt then lands mid-epoch.
        wait_for(lambda: (out / "checkpoints" / "checkpoint").is_file(), process)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 130
    assert "Interrupted: saved" in (tmp_path / "run.log").read_text()
    state = restored_state(out)
    assert 0 < state.step < 500 and int(state.epoch) == 0


def interrupt_at(step):
    """A callback raising KeyboardInterrupt after ``step``, like Ctrl-C."""
    def press_ctrl_c(model):
        raise KeyboardInterrupt
    return AtStep(step, press_ctrl_c)


# Mid-epoch (dcgan 4, wgan 2) and after an epoch's last step, before its end (dcgan 3).
@pytest.mark.parametrize("model, interrupt_at_step", [("dcgan", 4), ("wgan", 2), ("dcgan", 3)])
def test_interrupted_and_resumed_run_matches_uninterrupted(model, interrupt_at_step, image_folder,
                                                           tmp_path):
    """Same seed: the resumed run ends with the same weights as an unbroken one.

    The data stream, latent seed generator, optimizers and batch-norm statistics are
    all restored, so the two runs take the same steps on the same images. They agree
    to float32 round-off (atol 1e-5): oneDNN's threaded kernels need not add in the
    same order in two processes or two traces.
    """
    settings = dict(model=model, epochs=2, steps_per_epoch=3, batch_size=4, n_critic=2,
                    seed=5, data_dir=image_folder, checkpoint_every=0)
    unbroken = train(output_dir=str(tmp_path / "unbroken"), **settings)

    with pytest.raises(KeyboardInterrupt):
        train(output_dir=str(tmp_path / "resumed"), callbacks=[interrupt_at(interrupt_at_step)],
              **settings)
    resumed = train(output_dir=str(tmp_path / "resumed"), **settings)

    assert int(resumed.g_optimizer.iterations) == int(unbroken.g_optimizer.iterations) == 6
    assert int(resumed.d_optimizer.iterations) == int(unbroken.d_optimizer.iterations)
    for network in ("generator", "discriminator"):
        for a, b in zip(getattr(unbroken, network).weights, getattr(resumed, network).weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
    # A stop between an epoch's last step and its end loses that epoch's history row.
    expected_history = [2] if interrupt_at_step == 3 else [1, 2]
    assert history_epochs(tmp_path / "resumed") == expected_history


def test_noresume_refuses_an_existing_run(trained_run):
    result = run_main("--model=dcgan", "--noresume", f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert "a run already exists here" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flag, saved", [("--model=wgan", "--model=dcgan"),
                                         ("--image_size=128", "--image_size=64"),
                                         ("--latent_dim=64", "--latent_dim=128")])
def test_resume_refuses_a_different_architecture(trained_run, flag, saved):
    model = [] if flag.startswith("--model") else ["--model=dcgan"]
    result = run_main(flag, *model, f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert f"{flag}: the run in" in result.stderr and saved in result.stderr
    assert "Traceback" not in result.stderr


def test_finished_run_is_not_trained_further(trained_run):
    before = restored_state(trained_run).step
    result = run_main("--model=dcgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
                      "--seed=3", f"--output_dir={trained_run}",
                      f"--data_dir={read_run_config(str(trained_run)).data_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert restored_state(trained_run).step == before
    assert history_epochs(trained_run) == [1, 2]

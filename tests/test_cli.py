"""The command line, end to end: main.py in subprocesses as a user runs it, and the
flag parsing and exit statuses in-process."""

import csv
import dataclasses
import importlib.metadata
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from absl import flags
from PIL import Image

import anime_gan
from anime_gan import cli
from anime_gan.config import MODELS, TrainConfig
from anime_gan.errors import NonFiniteLossError
from anime_gan.images import image_grid
from anime_gan.sampling import fixed_latents
from conftest import (REPO_ROOT, checkpoints_written, child_env, history_epochs,
                      restored_state, run_main, run_python, start_main, wait_for)


def parse(*argv):
    flag_values = flags.FlagValues()
    cli.define_flags(flag_values)
    cli.parse_flags(["main.py", *argv], flag_values)
    return cli.config_from_flags(flag_values)


EXPECTED = {
    "dcgan": {"plots": ["losses.png", "scores.png"],
              "metrics": {"d_loss", "g_loss", "real_score", "fake_score"}},
    "wgan": {"plots": ["losses.png", "wasserstein.png"],
             "metrics": {"d_loss", "g_loss", "wasserstein", "gradient_penalty"}},
}


def check_every_output(model, out, result, data_dir):
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "Epoch 2/2" in log
    assert " loss:" not in log and "- loss" not in log  # no phantom Keras loss

    for name in ["generator.keras", "discriminator.keras", "config.json", "history.csv",
                 "samples/epoch_0001.png", "samples/epoch_0002.png", "checkpoints/checkpoint",
                 "export/saved_model.pb", *EXPECTED[model]["plots"]]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not [p for p in os.listdir(out) if p.startswith(".tmp") or p.endswith((".tmp", ".old"))]
    assert os.listdir(out / "logs" / "train") and os.listdir(out / "logs" / "samples")

    grid = np.asarray(Image.open(out / "samples" / "epoch_0001.png"))
    assert grid.shape == (8 * 64, 8 * 64, 3)
    assert Image.open(out / "losses.png").size[0] > 100

    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert set(rows[0]) == {"epoch"} | EXPECTED[model]["metrics"]
    assert all(np.isfinite(float(v)) for row in rows for v in row.values())

    config = json.loads((out / "config.json").read_text())
    assert config["model"] == model and config["data_dir"] == data_dir


def test_main_trains_dcgan_and_writes_every_output(session_main, session_data):
    out, result = session_main
    check_every_output("dcgan", out, result, session_data)


@pytest.mark.long
def test_main_trains_wgan_and_writes_every_output(image_folder, tmp_path):
    out = tmp_path / "run"
    result = run_main("--model=wgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
                      "--n_critic=2", f"--data_dir={image_folder}", f"--output_dir={out}")
    check_every_output("wgan", out, result, image_folder)


@pytest.mark.slow
def test_same_seed_repeats_the_run(image_folder, tmp_path):
    def weights(out):
        result = run_main("--model=dcgan", "--epochs=1", "--steps_per_epoch=2", "--batch_size=4",
                          "--seed=7", f"--data_dir={image_folder}", f"--output_dir={out}")
        assert result.returncode == 0, result.stderr[-3000:]
        return np.asarray(Image.open(out / "samples" / "epoch_0001.png"))
    np.testing.assert_array_equal(weights(tmp_path / "a"), weights(tmp_path / "b"))


@pytest.mark.long
def test_main_defaults_to_builtin_faces(tmp_path):
    out = tmp_path / "run"
    result = run_main("--epochs=1", "--steps_per_epoch=1", "--batch_size=4",
                      f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "built-in cartoon faces" in result.stderr and "--data_dir" in result.stderr
    assert (out / "samples" / "epoch_0001.png").is_file()


@pytest.mark.parametrize("flag, message", [
    ("--batch_size=0", "--batch_size=0: must be at least 1"),
    ("--image_size=96", "--image_size=96: must be one of 64, 128"),
    ("--model=gan", "--model=gan: must be one of dcgan, wgan"),
    ("--d_beta1=1.5", "--d_beta1=1.5: must be in [0, 1)"),
    ("--data_dir=/no/such/folder", "--data_dir=/no/such/folder: no such folder"),
    ("--dataset=mnist", "--dataset=mnist: must look like tfds:NAME"),
    ("--epochs=abc", "--epochs=abc: must be a whole number"),
    ("--image_size=64.5", "--image_size=64.5: must be a whole number"),
    ("--g_lr=fast", "--g_lr=fast: must be a number"),
    ("--resume=maybe", "--resume=maybe: must be true or false"),
    ("--nosuchflag=1", "Unknown command line flag 'nosuchflag'"),
    ("--mode=train2", "--mode=train2: must be one of train, export, generate"),
    ("--checkpoint_every=-1", "--checkpoint_every=-1: must be 0 (epoch ends only) or more"),
])
def test_invalid_flags_fail_at_once_naming_the_flag(flag, message, run_cli, tmp_path):
    result = run_cli(flag, f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_invalid_flags_exit_2_from_main(tmp_path):
    """The same, through a real process: a malformed flag, then a bad value."""
    result = run_main("--epochs=abc", f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: --epochs=abc: must be a whole number"
    assert not (tmp_path / "run").exists()


def test_saved_generator_reloads_without_anime_gan(shared_run, tmp_path):
    """A process with only Keras reproduces the training process's last sample grid."""
    out = shared_run
    np.save(tmp_path / "latents.npy", fixed_latents(128, seed=3))

    script = textwrap.dedent(f"""
        import sys
        import keras, numpy as np
        generator = keras.models.load_model({str(out / 'generator_ema.keras')!r})
        images = generator.predict(np.load({str(tmp_path / 'latents.npy')!r}), verbose=0)
        np.save({str(tmp_path / 'fresh.npy')!r}, images)
        assert not any(m.startswith("anime_gan") for m in sys.modules), "anime_gan imported"
    """)
    # Run from tmp_path so the project is not importable from the working directory.
    fresh = run_python(["-c", script], cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-3000:]

    images = np.load(tmp_path / "fresh.npy")
    assert images.shape == (64, 64, 64, 3)
    pixels = np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8)
    grid_from_training = np.asarray(Image.open(out / "samples" / "epoch_0002.png"))
    difference = np.abs(image_grid(pixels).astype(int) - grid_from_training.astype(int))
    assert difference.max() <= 1  # float round-off may move a pixel by one level


def test_version_is_the_package_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"anime-gan {anime_gan.__version__}"
    assert anime_gan.__version__ == importlib.metadata.version("anime-gan")


def test_words_that_are_not_flags_exit_2_in_one_line_with_a_hint(tmp_path, capsys):
    """``anime-gan generate wgan`` (what absl leaves after the flags): absl would print its
    usage and exit 1."""
    for words, expected in [
            (["generate", "wgan"], "unexpected arguments: generate wgan "
                                   "(did you mean --mode=generate --model=wgan?)"),
            (["foo"], "unexpected argument: foo; flags take the form --name=value")]:
        with pytest.raises(SystemExit) as exit_info:
            cli._main(["anime-gan", *words])
        assert exit_info.value.code == 2
        assert capsys.readouterr().err == f"error: {expected}\n"


def test_bad_flag_exits_with_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse("--epochs=0")
    assert exit_info.value.code == 2
    assert "--epochs=0: must be at least 1" in capsys.readouterr().err


def test_flags_map_onto_config():
    config = parse("--model=wgan", "--epochs=3", "--steps_per_epoch=7", "--image_size=128",
                   "--g_lr=0.001", "--jit_compile", "--output_dir=out")
    assert (config.model, config.epochs, config.steps_per_epoch) == ("wgan", 3, 7)
    assert (config.image_size, config.g_lr, config.jit_compile) == (128, 0.001, True)
    assert config.d_lr == 1e-4 and config.output_dir == "out"


def test_diffaugment_flag_turns_off_when_empty():
    assert parse("--diffaugment=").diffaugment == ""


@pytest.mark.parametrize("name", cli.experiment_names())
def test_every_experiment_is_valid_by_name_and_by_flagfile(name):
    by_name = parse(f"--experiment={name}")
    assert by_name.model in MODELS
    by_file = parse(f"--flagfile={cli.experiment_path(name)}")
    assert by_file == dataclasses.replace(by_name, output_dir=by_file.output_dir)


def test_experiments_ship_in_the_package():
    assert {"dcgan_64", "wgan_gp_64", "quality_1000_steps"} <= set(cli.experiment_names())
    assert os.path.dirname(cli.EXPERIMENTS_DIR) == os.path.dirname(cli.__file__)
    # The top-level experiments/ of a checkout is the packaged folder, not a copy.
    assert os.path.samefile(os.path.join(REPO_ROOT, "experiments"), cli.EXPERIMENTS_DIR)


def test_experiment_by_name_then_later_flags_override_it():
    config = parse("--experiment=wgan_gp_64", "--epochs=3", "--output_dir=out")
    assert (config.model, config.n_critic, config.epochs) == ("wgan", 5, 3)
    assert parse("--experiment", "wgan_gp_64").epochs == 50
    assert parse("--epochs=3", "--experiment=wgan_gp_64").epochs == 50  # later wins


def test_a_flag_the_experiment_overrides_is_named_in_a_warning(capsys):
    assert parse("--batch_size", "8", "--nojit_compile", "--model=dcgan",
                 "--experiment=dcgan_64").batch_size == 64
    err = capsys.readouterr().err
    assert err == ("warning: --experiment=dcgan_64 sets --batch_size=64, over the "
                   "--batch_size=8 given before it (flags after --experiment override it)\n")
    # Nothing is overridden: given after it, given again after it, or the same value.
    parse("--output_dir=out", "--experiment=dcgan_64", "--batch_size=8")
    parse("--batch_size=4", "--experiment=dcgan_64", "--batch_size=4")
    parse("--batch_size=64", "--experiment=dcgan_64")
    assert capsys.readouterr().err == ""


def test_flags_a_mode_other_than_train_does_not_read_are_named_in_a_warning(capsys):
    parse("--mode=generate", "--output_dir=run", "--batch_size=999", "--model=wgan",
          "--num_images=4", "--seed=2", "--num_samples=20")
    assert capsys.readouterr().err == ("warning: --mode=generate does not use --model, "
                                       "--batch_size, --num_samples (the run's own settings "
                                       "apply); ignored\n")
    parse("--mode=generate", "--output_dir=run", "--num_samples=20", "--backbone=x.keras")
    assert capsys.readouterr().err == ("warning: --mode=generate does not use --num_samples, "
                                       "--backbone; ignored\n")  # evaluate's, no run settings
    parse("--mode=evaluate", "--output_dir=run", "--data_dir=.", "--backbone=x.keras",
          "--num_samples=20", "--seed=1")
    parse("--mode=train", "--output_dir=run", "--batch_size=8")
    assert capsys.readouterr().err == ""
    parse("--mode=export", "--output_dir=run", "--seed=1")
    assert "does not use --seed (the run's own settings apply); ignored" in (
        capsys.readouterr().err)
    parse("--output_dir=run", "--num_images=4", "--interpolate")  # training, by default
    assert capsys.readouterr().err == (
        "warning: --num_images is for --mode=generate, not training; ignored\n"
        "warning: --interpolate is for --mode=generate, not training; ignored\n")


def test_unknown_experiment_exits_2_naming_the_choices(run_cli):
    result = run_cli("--experiment=nope")
    assert result.returncode == 2
    assert "--experiment=nope: must be one of" in result.stderr and "wgan_gp_64" in result.stderr


def test_an_unknown_flag_in_a_flagfile_names_the_file(tmp_path, run_cli):
    flagfile = tmp_path / "mine.flags"
    flagfile.write_text("--epochs=3\n--bogus=1\n")
    result = run_cli(f"--flagfile={flagfile}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: Unknown command line flag 'bogus' (in --flagfile={flagfile})"]
    result = run_cli("--bogus=1")
    assert result.stderr.strip().splitlines() == ["error: Unknown command line flag 'bogus'"]


def test_two_experiments_exit_2_naming_both(run_cli):
    """The second kept the settings of the first that it does not set (DiffAugment)."""
    result = run_cli("--experiment=dcgan_64", "--experiment", "sngan_64")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --experiment=sngan_64: give one experiment, not also --experiment=dcgan_64"]


def test_cli_reports_a_training_fault_in_one_line(monkeypatch, capsys):
    def fail(config):
        raise NonFiniteLossError("training stopped at step 7: d_loss=nan")

    monkeypatch.setattr(cli.commands, "train", fail)
    with pytest.raises(SystemExit) as exit_info:
        cli.run(TrainConfig(output_dir="unused"))
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: training stopped at step 7: d_loss=nan\n"


def test_main_reports_unusable_data_in_one_line(tmp_path, run_cli):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.png").write_text("not an image")
    result = run_cli(f"--data_dir={folder}", f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "no usable images" in result.stderr and "Traceback" not in result.stderr


# --- Stopping and resuming --------------------------------------------------------

@pytest.mark.long
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


@pytest.mark.slow
def test_training_goes_on_when_the_reader_of_its_output_goes_away(image_folder, tmp_path):
    """anime-gan ... | head -1: the pipe closes after the first line."""
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "main.py"), "--epochs=2",
         "--steps_per_epoch=2", "--batch_size=4", f"--data_dir={image_folder}",
         f"--output_dir={out}"], cwd=REPO_ROOT, env=child_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"Epoch 1/2")
    process.stdout.close()
    assert process.wait(timeout=300) == 0
    errors = process.stderr.read().decode()
    assert "Traceback" not in errors and "BrokenPipe" not in errors
    assert history_epochs(out) == [1, 2] and (out / "export" / "saved_model.pb").is_file()


@pytest.mark.long
@pytest.mark.parametrize("sig, status, said", [
    (signal.SIGINT, 130, "Interrupted: saved"),   # Ctrl-C
    # kill, schedulers, container stops (slow: the default suite keeps one signal, to stay
    # within its time budget)
    pytest.param(signal.SIGTERM, 143, "Terminated: saved", marks=pytest.mark.slow),
    # the terminal or SSH session closed
    pytest.param(signal.SIGHUP, 129, "Hung up (SIGHUP): saved", marks=pytest.mark.slow),
])
def test_a_stop_signal_saves_a_checkpoint_and_exits_even_if_sigint_was_ignored(
        sig, status, said, image_folder, tmp_path):
    out = tmp_path / "run"
    with open(tmp_path / "run.log", "w") as log:
        # Started with SIGINT ignored, as a shell starts a background job (and as a child
        # of pytest run from one inherits it): the command line restores Ctrl-C anyway.
        process = start_main("--model=dcgan", "--epochs=1", "--steps_per_epoch=500",
                             "--batch_size=4", "--checkpoint_every=1",
                             f"--data_dir={image_folder}", f"--output_dir={out}", stdout=log,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        # Training has started once the first step's checkpoint is written (however
        # slow the machine); the signal then lands mid-epoch.
        wait_for(lambda: (out / "checkpoints" / "checkpoint").is_file(), process)
        process.send_signal(sig)
        assert process.wait(timeout=120) == status
    text = (tmp_path / "run.log").read_text()
    assert said in text and f"Run the same command (with --output_dir={out}) again to resume" in text
    assert "Traceback" not in text
    state = restored_state(out)
    assert 0 < state.step < 500 and int(state.epoch) == 0
    assert not (out / ".lock").exists()


def test_noresume_refuses_an_existing_run(trained_run, run_cli):
    result = run_cli("--model=dcgan", "--noresume", f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert "a run already exists here" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flag, saved", [("--model=wgan", "--model=dcgan"),
                                         ("--image_size=128", "--image_size=64"),
                                         ("--latent_dim=64", "--latent_dim=128")])
def test_resume_refuses_a_different_architecture(trained_run, flag, saved, run_cli):
    model = [] if flag.startswith("--model") else ["--model=dcgan"]
    result = run_cli(flag, *model, f"--output_dir={trained_run}")
    assert result.returncode == 2
    # Only what was given: those left out (--batch_size=4, --seed=3) are the run's own.
    assert result.stderr == (f"error: {flag}: the run in {trained_run} was trained with "
                             f"{saved}; resume with that value, or use a new --output_dir\n")


def test_resume_refuses_every_given_setting_that_does_not_fit_in_one_line(trained_run,
                                                                          run_cli):
    result = run_cli("--image_size=128", "--seed=5", f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert result.stderr == (f"error: --image_size=128 --seed=5: the run in {trained_run} was "
                             "trained with --image_size=64 --seed=3; resume with those, or use "
                             "a new --output_dir\n")


def test_finished_run_is_not_trained_further(trained_run, image_folder, run_cli, caplog):
    before = restored_state(trained_run).step
    config_before = (trained_run / "config.json").read_bytes()
    with caplog.at_level(logging.INFO, logger="anime_gan"):
        result = run_cli("--model=dcgan", "--epochs=2", "--steps_per_epoch=1",
                         "--batch_size=4", "--seed=3", f"--output_dir={trained_run}",
                         f"--data_dir={image_folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    # It says so, rather than "Resuming at epoch 3" and "Training dcgan".
    assert f"{trained_run} has finished its 2 epoch(s): nothing to train" in caplog.text
    assert "Resuming" not in caplog.text and "Training dcgan" not in caplog.text
    assert "Decoding" not in caplog.text  # no data is read for it
    assert restored_state(trained_run).step == before
    assert history_epochs(trained_run) == [1, 2]
    # Nothing was trained on the other folder: the run's record still names its own data.
    assert (trained_run / "config.json").read_bytes() == config_before


def test_a_finished_run_run_again_leaves_a_current_export_alone(trained_run, run_cli):
    """Rewritten, the export a server may be loading would change under it for nothing;
    one older than the newest checkpoint (a kill before the export), or none, is written."""
    again = ("--model=dcgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
             "--seed=3", f"--output_dir={trained_run}")
    model_file = trained_run / "export" / "saved_model.pb"
    written = os.stat(model_file)
    assert run_cli(*again).returncode == 0
    assert os.stat(model_file).st_ino == written.st_ino
    assert os.stat(model_file).st_mtime == written.st_mtime
    index = trained_run / "checkpoints" / "checkpoint"
    os.utime(index, (written.st_mtime + 10, written.st_mtime + 10))  # saved after the export
    assert run_cli(*again).returncode == 0
    assert os.stat(model_file).st_ino != written.st_ino
    shutil.rmtree(trained_run / "export")
    assert run_cli(*again).returncode == 0 and model_file.is_file()


def test_a_finished_run_given_other_sampling_settings_keeps_its_own(trained_run, image_folder,
                                                                    run_cli, caplog):
    """--ema_decay=0 on a finished run trains nothing, so it changes nothing: the export
    stays the moving average that config.json records, and the summary names that file."""
    import keras
    import tensorflow as tf

    def exported_images():
        model = tf.saved_model.load(str(trained_run / "export"))
        return model.signatures["generate"](batch_size=tf.constant(2),
                                            seed=tf.constant(1))["images"].numpy()

    average = keras.models.load_model(trained_run / "generator_ema.keras")
    assert np.abs(exported_images().astype(int) - anime_gan.sample(average, 2, seed=1)).max() <= 1
    config_before = (trained_run / "config.json").read_bytes()
    with caplog.at_level(logging.INFO, logger="anime_gan"):
        result = run_cli("--model=dcgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
                         "--seed=3", "--ema_decay=0", f"--output_dir={trained_run}",
                         f"--data_dir={image_folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "nothing to train" in caplog.text and "dropped" not in caplog.text
    assert (trained_run / "config.json").read_bytes() == config_before
    assert (trained_run / "generator_ema.keras").is_file()
    assert np.abs(exported_images().astype(int) - anime_gan.sample(average, 2, seed=1)).max() <= 1
    assert f"generator       {trained_run / 'generator_ema.keras'}," in result.stdout


def test_ctrl_c_while_the_command_imports_tensorflow_exits_130_without_a_traceback(tmp_path):
    process = subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "main.py"),
                                f"--output_dir={tmp_path / 'run'}"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # TensorFlow takes longer than that to import
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode in (130, -signal.SIGINT)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, orig_argv, quiet", [
    (["/x/bin/anime-gan"], ["/x/bin/python", "/x/bin/anime-gan"], True),
    (["-m"], ["python", "-m", "anime_gan", "--epochs=1"], True),
    ([os.path.join(REPO_ROOT, "main.py")], ["python", "main.py"], True),
    (["-m"], ["python", "-m", "my_project"], False),  # which imports anime_gan
    (["/elsewhere/main.py"], ["python", "/elsewhere/main.py"], False),  # the user's own
    (["-c"], ["python", "-c", "import anime_gan"], False),
])
def test_only_the_command_itself_hides_a_ctrl_c_traceback(monkeypatch, argv, orig_argv, quiet):
    from anime_gan import errors

    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    handlers = []
    monkeypatch.setattr(signal, "signal", lambda *given: handlers.append(given))
    errors.quiet_ctrl_c_while_the_command_starts()
    assert handlers == ([(signal.SIGINT, signal.SIG_DFL)] if quiet else [])


def test_the_kaggle_zip_given_as_data_dir_says_to_unzip_it(tmp_path, run_cli):
    import zipfile

    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as archive:
        archive.writestr("images/1.png", b"\x89PNG\r\n\x1a\n")
    result = run_cli(f"--data_dir={tmp_path / 'archive.zip'}", f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert result.stderr == (f"error: --data_dir={tmp_path / 'archive.zip'}: is a zip archive; "
                             "unzip it and give the folder that holds its images, or give "
                             "--dataset=tfds:anime_faces with the zip in TFDS's manual folder "
                             "(see README)\n")

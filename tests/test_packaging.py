"""The command line as an installed tool: --help, a quiet start (no TensorFlow C++
lines), log lines apart from the progress bar, and the closing summary.

Building and installing the wheel is checked by .ci/run, not here (it takes minutes).
"""

import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import subprocess
import sys
import types

import pytest
from absl import flags

from anime_gan import cli, commands, progress, tensorflow_logs
from anime_gan.config import MODELS, TrainConfig
from anime_gan.evaluation.backbones import INCEPTION_WEIGHTS_FILE
from anime_gan.errors import TrainingFault
from anime_gan.run_folder import RunFolder
from conftest import child_env, run_python

# A TensorFlow C++ log line (absl's format, and TensorFlow's older one) or absl's notice.
CPP_LINE = re.compile(r"^([IWEF]\d{4} [\d:.]+\s+\d+ \S+\.(cc|cpp|h):\d+\]"
                      r"|\d{4}-\d\d-\d\d [\d:.]+: [IWEF] "
                      r"|WARNING: All log messages before absl::InitializeLog)", re.MULTILINE)


def run_help(*argv):
    flag_values = flags.FlagValues()
    cli.define_flags(flag_values)
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_flags(["anime-gan", *argv], flag_values)
    return exit_info.value.code


@pytest.mark.parametrize("flag", ["--help", "-h", "--helpshort"])
def test_help_lists_our_flags_by_group_and_exits_0(flag, capsys):
    assert run_help(flag) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: anime-gan [--flag=value ...]")
    headings = [line for line in out.splitlines() if re.fullmatch(r"[a-z]+:", line)]
    assert headings == ["training:", "model:", "data:", "output:", "modes:"]
    for field in dataclasses.fields(TrainConfig):
        assert re.search(rf"^  --(\[no\])?{field.name}\b", out, re.MULTILINE), field.name
    assert "--experiment" in out and "wgan_gp_64" in out
    for other in ("--logtostderr", "--verbosity", "--only_check_args", "--helpxml"):
        assert other not in out  # absl's and TensorFlow's flags stay in --helpfull
    model = out.index("\nmodel:")
    assert out.index("--image_size") > model and out.index("--epochs") < model


def test_help_names_every_exit_status_and_the_version_flag(capsys):
    assert run_help("--help") == 0
    footer = " ".join(capsys.readouterr().out.split("\n\n")[-1].split())
    for status in ("0 done", "1 training fault", "2 bad flag or data", "130 stopped by Ctrl-C",
                   "143 stopped by SIGTERM", "129 stopped by SIGHUP"):
        assert status in footer
    assert "--version" in footer


def test_every_models_defaults_are_in_the_help_of_the_flags_that_vary_by_model(capsys):
    assert run_help("--help") == 0
    out = capsys.readouterr().out
    for flag, models in [("--batch_size", ("wgan", "wgan_clip", "sngan")),  # per D update
                         ("--checkpoint_every", MODELS), ("--diffaugment", MODELS)]:
        text = re.search(rf"^  {flag}\b.*?(?=^  --|\Z)", out, re.MULTILINE | re.DOTALL).group(0)
        for model in models:
            assert re.search(rf"\b{model}\b", text), (flag, model)


def test_every_flag_has_a_help_group():
    grouped = [name for names in cli.GROUPS.values() for name in names]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == {f.name for f in dataclasses.fields(TrainConfig)} | {"experiment"}


def test_python_m_anime_gan_help_exits_0_and_helpfull_keeps_everything(tmp_path):
    result = run_python(["-m", "anime_gan", "--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: python -m anime_gan")
    assert "\nmodes:\n" in result.stdout
    assert not CPP_LINE.search(result.stderr), result.stderr


def test_helpfull_lists_every_flag(capsys):
    assert run_help("--helpfull") == 0
    out = capsys.readouterr().out
    assert "--epochs" in out and "--image_size" in out


def test_helpfull_read_only_in_part_exits_0_without_a_traceback(tmp_path):
    # As `anime-gan --helpfull | head -1`: the reader closes the pipe after its first line
    # (--help's text is shorter: the pipe's buffer takes it whole).
    reader_gone = subprocess.Popen(
        [sys.executable, "-c", "import sys, runpy; sys.argv = ['anime-gan', '--helpfull']; "
         "runpy.run_module('anime_gan', run_name='__main__')"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=tmp_path)
    reader_gone.stdout.readline()
    reader_gone.stdout.close()
    assert reader_gone.wait(timeout=120) == 0
    stderr = reader_gone.stderr.read().decode()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


@pytest.mark.parametrize("levels, message", [
    ("absl:info", "--logger_levels: Unknown level: 'info'; the levels are DEBUG, INFO, "
                  "WARNING, ERROR and CRITICAL"),
    ("absl", "--logger_levels=absl: must be NAME:LEVEL pairs, e.g. absl:INFO,anime_gan:DEBUG"),
])
def test_a_malformed_log_level_is_one_line_exit_2(levels, message, tmp_path):
    result = run_python(["-m", "anime_gan", f"--logger_levels={levels}"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert "Traceback" not in result.stderr


def test_tf_cpp_min_log_level_defaults_to_3_but_a_user_value_is_kept(tmp_path):
    script = "import os, anime_gan; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    kept = run_python(["-c", script], env=child_env(TF_CPP_MIN_LOG_LEVEL="1"))
    assert kept.returncode == 0, kept.stderr[-3000:]
    assert kept.stdout.strip() == "1"
    assert tensorflow_logs.DEFAULT_LEVEL == "3"


def test_filter_keeps_what_the_level_shows_and_everything_else():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1796163153.691848   28891 port.cc:153] oneDNN custom operations are on.\n"
            "I0000 00:00:1796163153.788822   28891 cpu_feature_guard.cc:227] This TensorFlow binary\n"
            "To enable the following instructions: AVX2, in other operations, rebuild TensorFlow.\n"
            "2025-09-17 14:44:05.176998: E external/xla/cuda_fft.cc:467] Unable to register cuFFT\n"
            "I1201 22:23:24.399608 140520546208640 pipeline.py:83] a Python log line\n"
            "a line of our own\n")
    assert tensorflow_logs.filter_log_lines(text, 0) == text
    assert tensorflow_logs.filter_log_lines(text, 1) == (
        "2025-09-17 14:44:05.176998: E external/xla/cuda_fft.cc:467] Unable to register cuFFT\n"
        "I1201 22:23:24.399608 140520546208640 pipeline.py:83] a Python log line\n"
        "a line of our own\n")
    assert tensorflow_logs.filter_log_lines(text, 3) == (
        "I1201 22:23:24.399608 140520546208640 pipeline.py:83] a Python log line\n"
        "a line of our own\n")


def test_a_real_start_shows_no_tensorflow_cpp_lines_and_ends_with_a_summary(session_main):
    out, result = session_main
    assert not CPP_LINE.search(result.stderr), CPP_LINE.search(result.stderr).group(0)
    assert "Writing fingerprint" not in result.stderr  # TensorFlow's export chatter
    summary = result.stdout[result.stdout.index("Done: "):]
    assert summary.startswith(f"Done: 2 epoch(s) of dcgan in {out}\n")
    assert os.path.join(str(out), "samples", "epoch_0002.png") in summary
    assert os.path.join(str(out), "export") in summary
    assert f"--mode=generate --output_dir={out} --interpolate" in summary
    assert f"--mode=evaluate --output_dir={out}" in summary  # the run had real images


def record(run, **settings):
    """The run's config.json with ``settings`` changed, as if it had trained with them."""
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, **settings}))


def test_train_summary_names_the_files_and_the_next_commands(trained_run):
    record(trained_run, data_dir=None)  # the built-in faces: no real images to compare
    lines = commands.train_summary(RunFolder(trained_run).read_config(),
                                   prog="python -m anime_gan")
    text = "\n".join(lines)
    assert len(lines) <= 10
    assert "generator_ema.keras" in text and "tensorboard --logdir" in text
    assert "python -m anime_gan --mode=generate" in text and "--mode=evaluate" not in text


def test_the_summarys_evaluate_command_says_what_it_needs_without_inception_weights(
        trained_run, tmp_path, monkeypatch):
    """Also after a run continued without its data flags: the settings on record count."""
    config = dataclasses.replace(RunFolder(trained_run).read_config(), data_dir=None)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    evaluate = [line for line in commands.train_summary(config) if "--mode=evaluate" in line]
    weights = tmp_path / "keras" / "models" / INCEPTION_WEIGHTS_FILE
    assert len(evaluate) == 1
    assert f"(needs InceptionV3's ImageNet weights in {weights}, or --backbone=PATH.keras" \
        in evaluate[0]
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights")
    assert commands.train_summary(config)[-2].endswith(
        f"--mode=evaluate --output_dir={trained_run}")
    # A run that measured KID with its own network (--eval_every --backbone) is evaluated with it.
    record(trained_run, backbone=str(tmp_path / "features.keras"))
    assert commands.train_summary(config)[-2].endswith(
        f"--mode=evaluate --output_dir={trained_run} --backbone={tmp_path / 'features.keras'}")
    weights.unlink()  # a run given its InceptionV3 weights file evaluates with it
    record(trained_run, backbone="inception", backbone_weights=str(tmp_path / "w.h5"))
    assert commands.train_summary(config)[-2].endswith(f"--output_dir={trained_run}")


def test_the_summarys_evaluate_command_names_the_data_where_it_is_now(trained_run, tmp_path,
                                                                       monkeypatch):
    """A finished run run again with --data_dir after its data moved: evaluate, which
    defaults to the recorded folder, is given the one that is there."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    weights = tmp_path / "keras" / "models" / INCEPTION_WEIGHTS_FILE
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights")
    now = tmp_path / "faces now"
    now.mkdir()
    record(trained_run, data_dir=str(tmp_path / "faces before"))
    config = dataclasses.replace(RunFolder(trained_run).read_config(), data_dir=str(now))
    assert commands.train_summary(config)[-2] == (
        f"  anime-gan --mode=evaluate --output_dir={trained_run} --data_dir='{now}'")
    record(trained_run, data_dir=str(now))  # where it was recorded: evaluate finds it
    assert commands.train_summary(config)[-2].endswith(f"--output_dir={trained_run}")


def test_a_non_chief_workers_summary_names_the_run_not_files_it_did_not_write(shared_run):
    config = RunFolder(shared_run).read_config()
    lines = commands.train_summary(dataclasses.replace(config, output_dir="runs/x"),
                                   worker="worker_1")
    assert lines == ["Done: worker_1's share of the multi-worker run; the chief writes the "
                     "run to runs/x (this task's scratch copy: "
                     f"{os.path.join('runs/x', 'workers', 'worker_1')})"]


def test_prog_name_follows_how_the_command_was_started():
    assert cli.prog_name("/venv/bin/anime-gan") == "anime-gan"
    assert cli.prog_name("/x/anime_gan/__main__.py") == "python -m anime_gan"
    assert cli.prog_name("main.py") == "python main.py"


def test_a_training_fault_mid_epoch_starts_its_error_on_a_line_of_its_own(monkeypatch, capsys):
    """A NaN loss stops fit mid-epoch, with the bar's line still open."""
    monkeypatch.setattr(progress.ProgressBar, "line_open", True)
    monkeypatch.setattr(cli, "set_up_log_handlers", lambda: None)

    def fault(config):
        print("\r3/5 ━━━━ - d_loss: nan", end="")
        raise TrainingFault("training stopped at step 3: d_loss=nan")

    monkeypatch.setattr(cli.commands, "run", fault)
    with pytest.raises(SystemExit) as exit_info:
        cli.run(TrainConfig(output_dir="unused"))
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out.endswith("d_loss: nan\n")
    assert captured.err == "error: training stopped at step 3: d_loss=nan\n"


def test_the_progress_bar_counts_the_runs_epochs_in_a_fit_that_ends_one_early():
    """A run resumed mid-epoch finishes that epoch in a fit of its own (epochs=4 of 6)."""
    bar = progress.ProgressBar(total_epochs=6)
    bar.set_params({"verbose": 1, "epochs": 4, "steps": 2})
    assert bar.epochs == 6
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        bar.on_epoch_begin(3)
    assert stdout.getvalue().startswith("Epoch 4/6")
    plain = progress.ProgressBar()
    plain.set_params({"verbose": 1, "epochs": 4, "steps": 2})
    assert plain.epochs == 4


def test_the_progress_bar_writes_a_line_an_epoch_into_a_file_and_draws_elsewhere(tmp_path):
    """Into a file (``> train.log``, nohup, a job scheduler's log) each redraw and its colour
    codes would pile up in one long line: there the bar is Keras's ``verbose=2``, a line an
    epoch.  A pipe may be a notebook's ``!anime-gan`` cell, which draws it in place."""
    read_end, write_end = os.pipe()
    with open(tmp_path / "train.log", "w+") as log, os.fdopen(write_end, "w") as pipe:
        for stdout, verbose in ((log, 2), (pipe, 1), (io.StringIO(), 1)):
            with contextlib.redirect_stdout(stdout):
                bar = progress.ProgressBar(total_epochs=1)
                bar.set_params({"verbose": "auto", "epochs": 1, "steps": 3})
                bar.on_epoch_begin(0)
                for step in range(3):
                    bar.on_train_batch_end(step, {"d_loss": 0.5})
                bar.on_epoch_end(0, {"d_loss": 0.5})
            assert bar.verbose == verbose
        log.seek(0)
        text = log.read()
    os.close(read_end)
    assert text.startswith("3/3 - ") and text.endswith("- d_loss: 0.5000\n")
    assert text.count("\n") == 1 and "\r" not in text and "\x1b" not in text


def test_the_progress_bar_of_an_epoch_resumed_after_some_steps_says_so():
    """The bar of a resumed epoch counts the steps left (2 of 5), and says why."""
    state = types.SimpleNamespace(steps_into_epoch=3)
    bar = progress.ProgressBar(total_epochs=6, state=state)
    bar.set_params({"verbose": 1, "epochs": 4, "steps": 2})
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        bar.on_epoch_begin(3)
        state.steps_into_epoch = 0  # the next epoch, whole
        bar.set_params({"verbose": 1, "epochs": 6, "steps": 5})
        bar.on_epoch_begin(4)
    assert stdout.getvalue().splitlines() == [
        "Epoch 4/6", "Resuming epoch 4 after its step 3 of 5: the bar counts the 2 step(s) left",
        "Epoch 5/6"]


def test_stdout_whose_reader_went_away_takes_writes_without_raising(monkeypatch):
    """``anime-gan ... | head``: once head exits, the progress bar must not stop training."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved_fd = os.dup(write_end)  # dup2 will point write_end at /dev/null
    stream = os.fdopen(write_end, "w")
    monkeypatch.setattr("sys.stdout", stream)
    try:
        with progress.surviving_a_closed_stdout():
            print("epoch 1", flush=True)
            sys.stdout.write("\r2/5 ━━━━")
            sys.stdout.flush()
            assert sys.stdout is not stream
        assert sys.stdout is stream
        stream.write("after")
        stream.flush()  # the descriptor now leads to /dev/null: no BrokenPipeError at exit
    finally:
        os.close(saved_fd)


def test_a_log_record_ends_the_progress_bar_line_first(monkeypatch):
    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdout", stdout)
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(progress.EndProgressLine())
    logger = logging.getLogger("anime_gan.test_progress")
    logger.addHandler(handler)
    try:
        monkeypatch.setattr(progress.ProgressBar, "line_open", True)
        stdout.write("\r3/5 ━━━━ - d_loss: 1.2")
        logger.warning("Saved checkpoint")
        assert stdout.getvalue().endswith("d_loss: 1.2\n")
        assert not progress.ProgressBar.line_open
        logger.warning("again")  # the line is closed: nothing more is written
        assert stdout.getvalue().endswith("d_loss: 1.2\n")
    finally:
        logger.removeHandler(handler)

"""A damaged, moved or copied run folder is repaired or refused, never trained over."""

import glob
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import anime_gan
from anime_gan import TrainConfig, history, training
from anime_gan.run_folder import RunFolder
from anime_gan.files import remove_leftovers
from anime_gan.run_folder.checkpoints import checkpoint_prefixes
from anime_gan.train_arguments import with_the_runs_data
from conftest import history_epochs, restored_state

RESUME = ("--model=dcgan", "--steps_per_epoch=1", "--batch_size=4", "--seed=3")


def damage(prefix, how):
    """Damages the checkpoint ``prefix`` as a crash, a full disk or a bad copy would."""
    if how == "truncated data":
        data = glob.glob(prefix + ".data-*")[0]
        with open(data, "r+b") as f:
            f.truncate(os.path.getsize(data) // 2)
    elif how == "lost data":
        os.remove(glob.glob(prefix + ".data-*")[0])
    elif how == "garbage index":
        with open(prefix + ".index", "wb") as f:
            f.write(b"not a checkpoint index")


@pytest.mark.long
@pytest.mark.parametrize("how", ["truncated data",
                                 pytest.param("lost data", marks=pytest.mark.slow),
                                 pytest.param("garbage index", marks=pytest.mark.slow)])
def test_every_mode_uses_the_newest_checkpoint_that_reads_back(how, trained_run, session_data,
                                                              run_cli, caplog):
    newest, older = checkpoint_prefixes(str(trained_run / "checkpoints"))[:2]
    assert newest.endswith("ckpt-2") and older.endswith("ckpt-1")
    damage(newest, how)

    for mode in ("generate", "export"):
        caplog.clear()
        result = run_cli(f"--mode={mode}", f"--output_dir={trained_run}")
        assert result.returncode == 0, result.stderr
        skipped = [r.getMessage() for r in caplog.records if "Skipped the checkpoint" in r.message]
        assert len(skipped) == 1 and skipped[0].startswith(f"Skipped the checkpoint {newest}: ")
    assert (trained_run / "generated" / "seed_0" / "grid.png").is_file()

    caplog.clear()
    caplog.set_level(logging.INFO)
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert "Resuming" in caplog.text and "Moved 1 damaged checkpoint(s)" in caplog.text
    assert os.path.exists(trained_run / "checkpoints" / "damaged" / "ckpt-2.index")
    state = restored_state(trained_run)
    assert state.step == 3 and int(state.epoch) == 3  # epoch 2 trained again from ckpt-1
    assert history_epochs(trained_run) == [1, 2, 3]


@pytest.mark.slow
def test_a_checkpoint_damaged_twice_under_one_name_keeps_both_damaged_copies(
        trained_run, session_data, run_cli, caplog):
    checkpoints, damaged = trained_run / "checkpoints", trained_run / "checkpoints" / "damaged"
    damage(str(checkpoints / "ckpt-2"), "truncated data")
    caplog.set_level(logging.INFO)
    assert run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                   f"--output_dir={trained_run}").returncode == 0
    first_copy = (damaged / "ckpt-2.index").read_bytes()
    for name in ("ckpt-2", "ckpt-3"):  # written again from ckpt-1, then both damaged
        damage(str(checkpoints / name), "truncated data")
    caplog.clear()
    result = run_cli(*RESUME, "--epochs=4", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert "Moved 2 damaged checkpoint(s)" in caplog.text
    assert "deprecated" not in caplog.text + result.stderr  # TensorFlow's notice on the index
    assert sorted(os.listdir(damaged)) == sorted(
        f"{name}.{ext}" for name in ("ckpt-2", "ckpt-2~2", "ckpt-3")
        for ext in ("index", "data-00000-of-00001"))
    assert (damaged / "ckpt-2.index").read_bytes() == first_copy
    assert restored_state(trained_run).step == 4 and history_epochs(trained_run) == [1, 2, 3, 4]


@pytest.mark.parametrize("index", [b"", b"\xe3\x81\xff\xfe garbage",
                                   b'model_checkpoint_path: "ckpt-2\ngarbage {{{'])
def test_a_damaged_checkpoint_index_file_is_read_past_in_every_mode(index, trained_run, run_cli,
                                                                    caplog):
    """An empty index (a crash, a full disk), a binary one or one cut short: the ckpt-N
    files count, and the damage is one line of ours (not TensorFlow's ParseError)."""
    index_file = trained_run / "checkpoints" / "checkpoint"
    index_file.write_bytes(index)
    assert restored_state_step_files(trained_run) == ["ckpt-1", "ckpt-2"]
    caplog.clear()
    result = run_cli("--mode=export", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    damaged = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert damaged and damaged[0].startswith(f"The checkpoint index {index_file} is damaged (")
    output = caplog.text + result.stderr
    assert "ParseError" not in output and "Checkpoint ignored" not in output


@pytest.mark.slow
@pytest.mark.parametrize("index", [b"", b"garbage {{{", b"\xe3\x81\xff\xfe garbage"])
def test_a_damaged_checkpoint_index_file_is_not_a_fresh_start(index, trained_run, session_data,
                                                              run_cli):
    """An empty (a crash, a full disk), text or binary index: every mode reads the ckpt-N
    files, and training rewrites the index so that only the newest 3 are kept."""
    (trained_run / "checkpoints" / "checkpoint").write_bytes(index)
    result = run_cli("--mode=generate", "--num_images=2", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    result = run_cli(*RESUME, "--epochs=5", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert restored_state(trained_run).step == 5 and history_epochs(trained_run) == [1, 2, 3, 4, 5]
    assert restored_state_step_files(trained_run) == ["ckpt-3", "ckpt-4", "ckpt-5"]


@pytest.mark.long
def test_a_run_in_a_relative_folder_keeps_its_newest_checkpoints_after_an_index_repair(
        trained_run, session_data, run_cli, monkeypatch):
    """The rewritten index named its checkpoints from the working folder ("../../ckpt-1"):
    the old ones piled up, and a later save deleted ckpt-N files in the working folder."""
    monkeypatch.chdir(trained_run.parent)
    (trained_run / "checkpoints" / "checkpoint").write_bytes(b"garbage {{{")
    strangers = [trained_run.parent / f"ckpt-{n}.index" for n in (1, 2, 3)]
    for stranger in strangers:
        stranger.write_text("another run's")
    result = run_cli(*RESUME, "--epochs=5", f"--data_dir={session_data}",
                     f"--output_dir={trained_run.name}")
    assert result.returncode == 0, result.stderr
    assert restored_state_step_files(trained_run) == ["ckpt-3", "ckpt-4", "ckpt-5"]
    assert sorted(os.listdir(trained_run / "checkpoints")) == ["checkpoint", *(
        f"ckpt-{n}.{ext}" for n in (3, 4, 5) for ext in ("data-00000-of-00001", "index"))]
    index = (trained_run / "checkpoints" / "checkpoint").read_text()
    assert "/" not in index and 'model_checkpoint_path: "ckpt-5"' in index
    assert all(stranger.read_text() == "another run's" for stranger in strangers)
    # Such an index, left by the earlier code, is rewritten before the manager reads it.
    (trained_run / "checkpoints" / "checkpoint").write_text(index.replace('"ckpt-', '"../../ckpt-'))
    result = run_cli(*RESUME, "--epochs=6", f"--data_dir={session_data}",
                     f"--output_dir={trained_run.name}")
    assert result.returncode == 0, result.stderr
    assert restored_state_step_files(trained_run) == ["ckpt-4", "ckpt-5", "ckpt-6"]
    assert "/" not in (trained_run / "checkpoints" / "checkpoint").read_text()
    assert all(stranger.read_text() == "another run's" for stranger in strangers)


def test_a_checkpoint_written_just_before_a_kill_that_the_index_missed_is_pruned(
        trained_run, session_data, run_cli):
    """Killed after ckpt-2's files but before TensorFlow replaced the index: the run goes
    on from ckpt-2, and ckpt-2 is kept to the last 3 like the others, not forever."""
    checkpoints = trained_run / "checkpoints"
    (checkpoints / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n'
                                            'all_model_checkpoint_paths: "ckpt-1"\n')
    (checkpoints / "checkpoint.tmp8f3a2b").write_text("the index the killed save wrote")
    result = run_cli(*RESUME, "--epochs=6", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert history_epochs(trained_run) == [1, 2, 3, 4, 5, 6]  # from ckpt-2: epoch 3 on
    assert sorted(os.listdir(checkpoints)) == ["checkpoint", *(
        f"ckpt-{n}.{ext}" for n in (4, 5, 6) for ext in ("data-00000-of-00001", "index"))]


def test_training_refuses_when_no_checkpoint_is_left(trained_run, session_data, run_cli):
    history = (trained_run / "history.csv").read_text()
    for prefix in checkpoint_prefixes(str(trained_run / "checkpoints")):
        damage(prefix, "truncated data")
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no checkpoint there reads back (2 damaged)" in lines[0]
    assert "Move the folder away" in lines[0]
    assert (trained_run / "history.csv").read_text() == history

    shutil.rmtree(trained_run / "checkpoints")  # lost altogether, history still there
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert "no checkpoint there reads back (none is left), so the run cannot continue" in result.stderr
    assert (trained_run / "history.csv").read_text() == history


def test_a_run_past_its_first_epoch_without_checkpoints_or_history_is_not_trained_over(
        trained_run, session_data, run_cli):
    """Its sample grids still show two epochs: the networks beside them are kept."""
    shutil.rmtree(trained_run / "checkpoints")
    os.remove(trained_run / "history.csv")
    generator = (trained_run / "generator.keras").read_bytes()
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 2 and "cannot continue" in result.stderr
    assert (trained_run / "generator.keras").read_bytes() == generator


@pytest.mark.slow
def test_a_first_epoch_whose_checkpoint_was_never_written_is_trained_again(
        trained_run, session_data, run_cli, caplog):
    """A full disk at the first epoch's end: the history row and grid were written, the
    checkpoint was not; the same command repeats that epoch and goes on."""
    shutil.rmtree(trained_run / "checkpoints")
    os.remove(trained_run / "samples" / "epoch_0002.png")
    rows = (trained_run / "history.csv").read_text().splitlines()
    (trained_run / "history.csv").write_text("\n".join(rows[:2]) + "\n")  # epoch 1 only
    caplog.set_level(logging.WARNING)
    result = run_cli(*RESUME, "--epochs=2", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert "first epoch ended without a checkpoint; training starts again from step 0" \
        in caplog.text
    assert restored_state(trained_run).step == 2 and history_epochs(trained_run) == [1, 2]


def test_a_checkpoint_half_written_by_a_killed_process_is_removed_on_resume(trained_run):
    newest = restored_state(trained_run).step
    half_written = trained_run / "checkpoints" / "ckpt-3_temp"
    half_written.mkdir()
    (half_written / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 1000)
    assert restored_state(trained_run).step == newest
    assert not half_written.exists()


def test_a_history_file_of_binary_garbage_is_read_as_no_rows(trained_run):
    (trained_run / "history.csv").write_bytes(bytes(range(256)) * 4)
    assert history.read_rows(str(trained_run / "history.csv")) == []


def test_config_json_with_values_of_the_wrong_type_is_damaged_in_one_line(
        trained_run, session_data, run_cli):
    for key, value in [("ema_decay", None), ("latent_dim", 128.5), ("epochs", -1)]:
        saved = json.loads((trained_run / "config.json").read_text())
        (trained_run / "config.json").write_text(json.dumps({**saved, key: value}))
        result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                         f"--output_dir={trained_run}")
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"config.json is damaged (--{key}=" in lines[0]
        (trained_run / "config.json").write_text(json.dumps(saved))



def test_config_json_without_the_settings_that_shape_the_run_is_damaged_in_one_line(
        trained_run, session_data, run_cli):
    """Not filled in with defaults, which would stand for the run's own settings."""
    saved = json.loads((trained_run / "config.json").read_text())
    for kept in ({}, {k: v for k, v in saved.items() if k not in ("image_size", "seed")}):
        (trained_run / "config.json").write_text(json.dumps(kept))
        result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                         f"--output_dir={trained_run}")
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        missing = "image_size, seed" if kept else "model, image_size, latent_dim, batch_size, seed"
        assert len(lines) == 1 and f"config.json is damaged (no {missing})" in lines[0]


def run_that_kept_an_epoch(config):
    """config.json and a history row: a run to continue (config.json alone kept nothing)."""
    RunFolder(config.output_dir).write_config(config)
    with open(RunFolder(config.output_dir).history, "w") as f:
        f.write("epoch,d_loss\n1,0.5\n")


def test_a_run_continued_without_data_flags_keeps_its_data_and_cache(tmp_path):
    faces, cache, run = (str(tmp_path / name) for name in ("faces", "cache", "run"))
    os.makedirs(faces)
    run_that_kept_an_epoch(TrainConfig(data_dir=faces, cache_dir=cache, output_dir=run))
    continued, notes = with_the_runs_data(TrainConfig(output_dir=run))
    assert (continued.data_dir, continued.cache_dir) == (faces, cache)
    assert notes == [f"Continuing on the run's data, {faces}"]
    given, notes = with_the_runs_data(TrainConfig(output_dir=run, data_dir=faces,
                                                  cache_dir=faces + "2"))
    assert given.cache_dir == faces + "2" and notes == []  # its data given: nothing to say
    in_memory, _ = with_the_runs_data(TrainConfig(output_dir=run, cache_dir=""))
    assert in_memory.cache_dir is None  # --cache_dir= : back to memory (a cache disk gone)
    new, notes = with_the_runs_data(TrainConfig(output_dir=run, resume=False))
    assert new.cache_dir is None and notes == []


def test_a_cache_kept_inside_the_data_folder_moves_with_it(tmp_path):
    old, new, run = (str(tmp_path / name) for name in ("faces", "moved", "run"))
    os.makedirs(os.path.join(old, ".cache"))
    run_that_kept_an_epoch(TrainConfig(data_dir=old, cache_dir=os.path.join(old, ".cache"),
                                       output_dir=run))
    # Still in its place: kept, whatever data comes now.
    assert with_the_runs_data(TrainConfig(output_dir=run, data_dir=new)) == (
        TrainConfig(output_dir=run, data_dir=new, cache_dir=os.path.join(old, ".cache")), [])
    os.rename(old, new)
    moved, notes = with_the_runs_data(TrainConfig(output_dir=run, data_dir=new))
    assert moved.cache_dir == os.path.join(new, ".cache")
    assert notes == [f"The run's cache folder {os.path.join(old, '.cache')} is gone; using "
                     f"{os.path.join(new, '.cache')}, its place in the moved data folder"]
    # Given, a cache folder is taken as it is, without a word.
    assert with_the_runs_data(TrainConfig(output_dir=run, data_dir=new, cache_dir=run + "c")) \
        == (TrainConfig(output_dir=run, data_dir=new, cache_dir=run + "c"), [])
    # Other data without that cache inside: the run's recorded folder, no new one inside it.
    other = str(tmp_path / "other")
    os.makedirs(other)
    assert with_the_runs_data(TrainConfig(output_dir=run, data_dir=other))[0].cache_dir == \
        os.path.join(old, ".cache")
    assert os.listdir(other) == []
    # A cache that was not inside the data folder is not looked for there.
    elsewhere = str(tmp_path / "cache")
    run_that_kept_an_epoch(TrainConfig(data_dir=new, cache_dir=elsewhere, output_dir=run))
    os.rename(new, old)
    assert with_the_runs_data(TrainConfig(output_dir=run, data_dir=old))[0].cache_dir == elsewhere
    assert not os.path.exists(elsewhere)


def test_a_continued_run_refused_for_another_model_does_not_first_say_it_continues(
        tmp_path, caplog):
    faces, run = str(tmp_path / "faces"), str(tmp_path / "run")
    os.makedirs(faces)
    os.makedirs(run)
    run_that_kept_an_epoch(TrainConfig(model="dcgan", data_dir=faces, output_dir=run))
    caplog.set_level(logging.INFO)
    with pytest.raises(anime_gan.ConfigError, match="--model=wgan: the run in .* was trained with "
                                          "--model=dcgan"):
        training.train(output_dir=run, model="wgan")
    assert "Continuing on the run's data" not in caplog.text


@pytest.mark.slow
def test_a_run_continued_without_data_flags_goes_on_with_its_own_data(
        trained_run, session_data, run_cli, caplog):
    caplog.set_level(logging.INFO)
    result = run_cli(*RESUME, "--epochs=3", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert f"Continuing on the run's data, {session_data}" in caplog.text
    assert "built-in" not in caplog.text
    assert json.loads((trained_run / "config.json").read_text())["data_dir"] == session_data
    assert history_epochs(trained_run) == [1, 2, 3]


@pytest.mark.slow  # the default suite's time budget
def test_a_run_started_with_relative_folders_continues_from_another_working_folder(
        image_folder, tmp_path, run_cli, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.move(image_folder, project / "data" / "faces")
    monkeypatch.chdir(project)
    first = run_cli(*RESUME, "--epochs=1", "--data_dir=data/faces", "--cache_dir=cache",
                    "--output_dir=runs/a")
    assert first.returncode == 0, first.stderr
    saved = json.loads((project / "runs" / "a" / "config.json").read_text())
    assert saved["data_dir"] == str(project / "data" / "faces")
    assert saved["cache_dir"] == str(project / "cache")
    assert saved["output_dir"] == "runs/a"  # the folder itself, as it was given

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data" / "faces").mkdir(parents=True)  # same relative name, no images
    monkeypatch.chdir(elsewhere)
    again = run_cli(*RESUME, "--epochs=2", f"--output_dir={project / 'runs' / 'a'}")
    assert again.returncode == 0, again.stderr
    assert f"Continuing on the run's data, {project / 'data' / 'faces'}" in caplog.text
    assert history_epochs(project / "runs" / "a") == [1, 2]
    assert "--cache_dir=None" not in caplog.text  # the run's cache went on with it
    assert json.loads((project / "runs" / "a" / "config.json").read_text())["cache_dir"] == \
        str(project / "cache")


@pytest.mark.long
def test_a_run_continued_with_settings_left_out_keeps_its_own(trained_run, run_cli, caplog):
    """Not the defaults: resumed with only --epochs and --output_dir (on the command line,
    then in Python), the run keeps its batch size, seed, steps per epoch, moving average,
    DiffAugment and learning rates; what is given is a recorded change."""
    saved = json.loads((trained_run / "config.json").read_text())
    (trained_run / "config.json").write_text(json.dumps(  # as if trained with these
        {**saved, "ema_decay": 0.9, "diffaugment": "color", "d_lr": 0.0003}))
    before = json.loads((trained_run / "config.json").read_text())
    result = run_cli("--epochs=3", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    after = json.loads((trained_run / "config.json").read_text())
    assert {**after, "epochs": 2, "output_dir": ""} == {**before, "output_dir": ""}  # no "changes"
    assert history_epochs(trained_run) == [1, 2, 3] and restored_state(trained_run).step == 3
    assert "other settings" not in caplog.text

    anime_gan.train(output_dir=str(trained_run), epochs=4, g_lr=0.0001)
    after = json.loads((trained_run / "config.json").read_text())
    assert after["changes"] == [{"from_step": 4, "in_epoch": 4,
                                 "settings": {"g_lr": [before["g_lr"], 0.0001]}}]
    assert (after["batch_size"], after["seed"], after["steps_per_epoch"], after["ema_decay"],
            after["diffaugment"], after["d_lr"]) == (4, 3, 1, 0.9, "color", 0.0003)
    assert history_epochs(trained_run) == [1, 2, 3, 4] and restored_state(trained_run).step == 4


@pytest.mark.slow  # the default suite's time budget
def test_a_run_continued_with_other_settings_keeps_a_record_of_them(
        trained_run, session_data, run_cli, caplog):
    before = json.loads((trained_run / "config.json").read_text())
    caplog.set_level(logging.INFO)
    result = run_cli(*RESUME, "--epochs=3", "--g_lr=0.0001", "--ema_decay=0.99",
                     f"--data_dir={session_data}", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    saved = json.loads((trained_run / "config.json").read_text())
    assert (saved["g_lr"], saved["ema_decay"], saved["epochs"]) == (0.0001, 0.99, 3)
    change = {"from_step": 3, "in_epoch": 3,
              "settings": {"g_lr": [before["g_lr"], 0.0001],
                           "ema_decay": [before["ema_decay"], 0.99]}}
    assert saved["changes"] == [change]  # --epochs is no change of how it trained
    assert (f"Continuing {trained_run} with other settings from step 3: --g_lr=0.0001 (was "
            f"{before['g_lr']}), --ema_decay=0.99 (was {before['ema_decay']})") in caplog.text

    result = run_cli(*RESUME, "--epochs=4", "--g_lr=0.0001", "--ema_decay=0.99",
                     f"--data_dir={session_data}", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert json.loads((trained_run / "config.json").read_text())["changes"] == [change]
    assert anime_gan.RunFolder(trained_run).read_config().g_lr == 0.0001


def test_a_run_continued_without_data_flags_stops_if_its_data_is_gone(trained_run, tmp_path,
                                                                     run_cli):
    saved = json.loads((trained_run / "config.json").read_text())
    (trained_run / "config.json").write_text(json.dumps({**saved, "data_dir": str(tmp_path / "gone")}))
    result = run_cli(*RESUME, "--epochs=4", f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: --data_dir: the run in {trained_run} was trained on {tmp_path / 'gone'}, which "
        "is not there any more; give --data_dir=PATH where its images are now")


def test_damaged_config_is_one_line_and_generate_falls_back_to_the_keras_file(
        trained_run, session_data, run_cli, caplog):
    (trained_run / "config.json").write_text('{"model": "dcg')
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: --output_dir={trained_run}: config.json is damaged")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("--mode=generate", "--num_images=2", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert "using the saved .keras generator instead" in caplog.text


def test_checkpoints_without_config_are_not_trained_over(trained_run, session_data, run_cli):
    os.remove(trained_run / "config.json")
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 2 and "no config.json" in result.stderr
    assert restored_state_step_files(trained_run) == ["ckpt-1", "ckpt-2"]


def restored_state_step_files(run):
    return sorted(os.path.basename(p) for p in checkpoint_prefixes(str(run / "checkpoints")))


@pytest.mark.parametrize("make_target", ["file", "under a file"])
def test_output_dir_that_cannot_be_a_folder_is_one_line(make_target, tmp_path, run_cli):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" if make_target == "file" else tmp_path / "afile" / "run"
    result = run_cli("--epochs=1", "--steps_per_epoch=1", "--batch_size=4",
                     f"--output_dir={target}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: --output_dir={target}: ")


@pytest.mark.long
def test_run_folder_works_after_its_data_moved(trained_run, session_data, tmp_path, run_cli,
                                               tiny_backbone):
    config = json.loads((trained_run / "config.json").read_text())
    config["data_dir"] = str(tmp_path / "moved-away")  # as on another machine
    (trained_run / "config.json").write_text(json.dumps(config))

    assert run_cli("--mode=generate", "--num_images=3", f"--output_dir={trained_run}"
                   ).returncode == 0
    shutil.rmtree(trained_run / "export")
    assert run_cli("--mode=export", f"--output_dir={trained_run}").returncode == 0
    assert (trained_run / "export" / "saved_model.pb").is_file()
    result = run_cli("--mode=evaluate", "--num_samples=12", f"--backbone={tiny_backbone}",
                     f"--data_dir={session_data}", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    # Resume reads the data from its new place.
    result = run_cli(*RESUME, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    assert json.loads((trained_run / "config.json").read_text())["data_dir"] == session_data
    assert history_epochs(trained_run) == [1, 2, 3]


@pytest.mark.parametrize("flag, saved", [("--batch_size=8", "--batch_size=4"),
                                         ("--seed=4", "--seed=3")])
def test_settings_that_fix_the_data_stream_cannot_change_on_resume(flag, saved, trained_run,
                                                                  session_data, run_cli):
    settings = [s for s in RESUME if not s.startswith(flag.split("=")[0])]
    result = run_cli(*settings, flag, "--epochs=3", f"--data_dir={session_data}",
                     f"--output_dir={trained_run}")
    assert result.returncode == 2
    assert f"{flag}: the run in" in result.stderr and saved in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_ema_decay_can_be_turned_off_and_on_when_resuming(trained_run, session_data, caplog):
    common = dict(model="dcgan", steps_per_epoch=1, batch_size=4, seed=3,
                  data_dir=session_data, output_dir=str(trained_run))
    average_before = (trained_run / "generator_ema.keras").read_bytes()
    gan = anime_gan.train(epochs=3, ema_decay=0.0, **common)
    assert gan.ema_generator is None and "moving-average generator is dropped" in caplog.text
    # The average from before is kept, under a name that says it no longer follows the run.
    assert not (trained_run / "generator_ema.keras").exists()
    assert (trained_run / "generator_ema_stale.keras").read_bytes() == average_before
    latents = np.random.default_rng(0).normal(size=(2, 128)).astype(np.float32)
    np.testing.assert_allclose(anime_gan.load_generator(str(trained_run))(latents),
                               gan.generator(latents), atol=1e-5)

    gan = anime_gan.train(epochs=4, ema_decay=0.99, **common)
    assert "it starts now from the current generator" in caplog.text
    assert gan.ema_generator is not None
    np.testing.assert_allclose(anime_gan.load_generator(str(trained_run))(latents),
                               gan.ema_generator(latents), atol=1e-5)


@pytest.mark.long
def test_learning_rates_given_on_resume_take_effect(trained_run, session_data):
    gan = anime_gan.train(model="dcgan", epochs=3, steps_per_epoch=1, batch_size=4, seed=3,
                          g_lr=5e-5, d_lr=7e-5, data_dir=session_data,
                          output_dir=str(trained_run))
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(5e-5)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(7e-5)


def test_cache_dir_that_is_a_file_is_one_line(tmp_path, image_folder, run_cli):
    (tmp_path / "afile").write_text("x")
    result = run_cli("--epochs=1", "--steps_per_epoch=1", "--batch_size=4",
                     f"--data_dir={image_folder}", f"--cache_dir={tmp_path / 'afile'}",
                     f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"--cache_dir={tmp_path / 'afile'}: is a file, not a folder" in result.stderr
    assert not (tmp_path / "run").exists()


def test_temporary_files_of_killed_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "samples").mkdir()
        kept = [tmp_path / f".tmp-{alive.pid}-generator.keras",   # a process writing it now
                tmp_path / f".tmp-{os.getpid()}-history.png",      # this one's
                tmp_path / "samples" / "epoch_0001.png", tmp_path / ".tmp-notes.txt"]
        removed = [tmp_path / "samples" / f".tmp-{dead.pid}-epoch_0002.png",
                   tmp_path / f".tmp-{dead.pid}-generator_ema.keras"]
        for path in kept + removed:
            path.write_bytes(b"x")
        remove_leftovers(str(tmp_path))
        assert [p.exists() for p in kept] == [True] * 4
        assert [p.exists() for p in removed] == [False] * 2
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("inside", ["export", "checkpoints", "samples", "new",
                                    os.path.join("generated", "seed_0", "more"),
                                    os.path.join("export", "p", "q", "r", "s")])
def test_a_run_is_not_written_inside_another_run(trained_run, inside):
    before = sorted(os.path.relpath(os.path.join(d, f), trained_run)
                    for d, _, names in os.walk(trained_run) for f in names)
    with pytest.raises(anime_gan.ConfigError, match=f"--output_dir=.*: is inside the run "
                                                    f"folder {trained_run}, whose own files"):
        anime_gan.train(output_dir=str(trained_run / inside), epochs=1, steps_per_epoch=1)
    after = sorted(os.path.relpath(os.path.join(d, f), trained_run)
                   for d, _, names in os.walk(trained_run) for f in names)
    assert after == before


def test_a_new_run_is_not_written_around_other_runs(trained_run, tmp_path):
    """--output_dir=runs, the parent of the runs: a run there would hold them."""
    outer = tmp_path  # holds trained_run, tmp_path/"run"
    with pytest.raises(anime_gan.ConfigError, match=f"--output_dir={outer}: holds the run "
                                                    f"{trained_run}; a new run there would"):
        anime_gan.train(output_dir=str(outer), epochs=1, steps_per_epoch=1)
    assert not os.path.exists(outer / "config.json")
    deeper = outer / "runs"
    shutil.move(trained_run, deeper / "2026" / "run")
    with pytest.raises(anime_gan.ConfigError, match="holds the run"):
        anime_gan.train(output_dir=str(deeper), epochs=1, steps_per_epoch=1)

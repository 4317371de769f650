"""The command line's modes: export, generate and evaluate a trained run."""

import contextlib
import functools
import glob
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import anime_gan
from anime_gan.errors import Terminated


def test_export_mode_rewrites_the_export(trained_run, run_cli):
    shutil.rmtree(trained_run / "export")
    result = run_cli("--mode=export", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (trained_run / "export" / "saved_model.pb").is_file()
    assert not glob.glob(str(trained_run / "export.*"))


def test_generate_mode_writes_images_grid_interpolation_and_gif(trained_run, run_cli):
    result = run_cli("--mode=generate", f"--output_dir={trained_run}", "--num_images=5",
                      "--seed=4", "--interpolate")
    assert result.returncode == 0, result.stderr[-3000:]
    out = trained_run / "generated" / "seed_4"
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png", "00002.png", "00003.png",
                                       "00004.png", "grid.png", "interpolation.png",
                                       "samples.gif"]
    written = np.stack([np.asarray(Image.open(out / f"{i:05d}.png")) for i in range(5)])
    expected = anime_gan.sample(anime_gan.load_generator(str(trained_run)), 5, seed=4)
    assert np.abs(written.astype(int) - expected).max() <= 1
    assert Image.open(out / "grid.png").size == (3 * 64, 2 * 64)  # 3 columns, 2 rows
    assert Image.open(out / "interpolation.png").size == (8 * 64, 8 * 64)
    gif = Image.open(out / "samples.gif")
    assert gif.n_frames == 2  # one per epoch


def test_generate_interpolate_before_the_first_epoch_ended_writes_no_gif(trained_run, run_cli,
                                                                         caplog):
    """A run stopped in its first epoch has networks but no sample grids to animate."""
    shutil.rmtree(trained_run / "samples")
    result = run_cli("--mode=generate", f"--output_dir={trained_run}", "--num_images=2",
                     "--interpolate")
    assert result.returncode == 0, result.stderr[-3000:]
    out = trained_run / "generated" / "seed_0"
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png", "grid.png",
                                       "interpolation.png"]
    assert (f"Wrote interpolation.png to {out}; no samples.gif: the run has no sample grids "
            "yet (it stopped before its first epoch ended)") in caplog.text


def test_generate_mode_on_a_missing_run_fails_clearly(tmp_path, run_cli):
    result = run_cli("--mode=generate", f"--output_dir={tmp_path / 'nothing'}")
    assert result.returncode == 2
    assert "no run here" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", ["generate", "export", "evaluate"])
def test_a_file_given_as_the_run_folder_is_said_to_be_a_file(trained_run, run_cli, mode):
    network = next(trained_run.glob("generator*.keras"))
    result = run_cli(f"--mode={mode}", f"--output_dir={network}")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        f"--output_dir={network}: is a file, not a run folder; give the folder of the run "
        "that saved it")


def test_evaluate_mode_writes_eval_json(trained_run, image_folder, tiny_backbone, run_cli):
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=20",
                      f"--backbone={tiny_backbone}", f"--data_dir={image_folder}",
                      "--backbone_weights=inception.h5")  # not used by a .keras network
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((trained_run / "eval.json").read_text())
    assert report["fid"] >= 0 and 0 <= report["precision"] <= 1 and 0 <= report["recall"] <= 1
    assert np.isfinite(report["kid_mean"]) and report["kid_std"] > 0  # subsets of 10 of 20
    settings = report["settings"]
    assert settings["real_images"] == settings["generated_images"] == 20
    assert settings["backbone"] == tiny_backbone and settings["image_size"] == 64
    assert settings["num_samples"] == 20 and settings["kid_subset_size"] == 10
    assert settings["backbone_weights"] is None
    newest = sorted((trained_run / "checkpoints").glob("ckpt-*.index"))[-1]
    assert settings["generator"] == f"{str(newest)[:-len('.index')]}: ema_generator"
    assert '"fid"' in result.stdout
    assert [json.loads(line) for line in
            (trained_run / "evals.jsonl").read_text().splitlines()] == [report]


def test_every_evaluation_is_kept_in_evals_jsonl_the_newest_in_eval_json(
        trained_run, image_folder, tiny_backbone):
    """An evaluation with other settings does not lose the earlier one (nor one an older
    version wrote to eval.json alone)."""
    (trained_run / "eval.json").write_text(json.dumps({"fid": 1.0, "settings": {}}))
    reports = [anime_gan.evaluate_run(str(trained_run), num_samples=n, data_dir=str(image_folder),
                                      backbone=tiny_backbone) for n in (10, 20)]
    kept = [json.loads(line) for line in (trained_run / "evals.jsonl").read_text().splitlines()]
    assert kept == [{"fid": 1.0, "settings": {}}, *json.loads(json.dumps(reports))]
    assert [k["settings"].get("num_samples") for k in kept] == [None, 10, 20]
    assert json.loads((trained_run / "eval.json").read_text()) == kept[-1]


def test_a_damaged_earlier_eval_json_is_replaced_with_a_warning(trained_run, image_folder,
                                                                 tiny_backbone, caplog):
    (trained_run / "eval.json").write_text('{"fid": 1')
    report = anime_gan.evaluate_run(str(trained_run), num_samples=10,
                                    data_dir=str(image_folder), backbone=tiny_backbone)
    assert f"The earlier {trained_run / 'eval.json'} does not read (" in caplog.text
    assert [json.loads(line) for line in (trained_run / "evals.jsonl").read_text().splitlines()
            ] == [json.loads(json.dumps(report))]


def test_eval_json_names_the_run_generator_and_data_by_absolute_paths(
        trained_run, image_folder, tiny_backbone, run_cli, monkeypatch):
    monkeypatch.chdir(trained_run.parent)
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run.name}", "--num_samples=10",
                     f"--backbone={tiny_backbone}",
                     f"--data_dir={os.path.relpath(image_folder)}")
    assert result.returncode == 0, result.stderr[-3000:]
    settings = json.loads((trained_run / "eval.json").read_text())["settings"]
    assert settings["run"] == str(trained_run) and settings["data_dir"] == str(image_folder)
    assert settings["generator"].startswith(str(trained_run / "checkpoints" / "ckpt-"))


def test_evaluate_with_fewer_real_images_than_asked_compares_them_all_and_says_so(
        trained_run, image_folder, tiny_backbone, run_cli, caplog):
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=30",
                     f"--backbone={tiny_backbone}", f"--data_dir={image_folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"--num_samples=30: 24 usable real images in {image_folder}; all 24 are compared"
            in caplog.messages)
    settings = json.loads((trained_run / "eval.json").read_text())["settings"]
    assert (settings["real_images"], settings["generated_images"]) == (24, 30)


def test_evaluate_skips_the_images_the_run_skipped_as_too_large(trained_run, tmp_path,
                                                                 tiny_backbone, caplog):
    """The run's --max_image_pixels applies (the flag itself is the run's, not evaluate's)."""
    saved = json.loads((trained_run / "config.json").read_text())
    (trained_run / "config.json").write_text(json.dumps({**saved, "max_image_pixels": 1000}))
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(24):
        side = 30 if i % 2 else 40  # 900 pixels, or 1,600: more than the run's 1,000
        Image.fromarray(np.full((side, side, 3), 10 * i, np.uint8)).save(faces / f"{i}.png")
    anime_gan.evaluate_run(str(trained_run), num_samples=20, data_dir=str(faces),
                           backbone=tiny_backbone)
    settings = json.loads((trained_run / "eval.json").read_text())["settings"]
    assert settings["real_images"] == 12
    assert "Skipped 12 file(s): too large (more than --max_image_pixels=1000" in caplog.text


@pytest.mark.slow  # the default suite's time budget
def test_evaluate_without_a_backbone_uses_the_runs_own(trained_run, image_folder,
                                                        tiny_backbone, run_cli):
    """The one a run records for --eval_every, like every setting left out; given, it wins."""
    saved = json.loads((trained_run / "config.json").read_text())
    (trained_run / "config.json").write_text(json.dumps({**saved, "backbone": tiny_backbone}))
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=10",
                     f"--data_dir={image_folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((trained_run / "eval.json").read_text())["settings"]["backbone"] == \
        tiny_backbone
    os.remove(trained_run / "eval.json")
    anime_gan.evaluate_run(str(trained_run), num_samples=10, data_dir=str(image_folder))
    assert json.loads((trained_run / "eval.json").read_text())["settings"]["backbone"] == \
        tiny_backbone
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=10",
                     f"--data_dir={image_folder}", "--backbone=inception",
                     f"--backbone_weights={trained_run / 'none.h5'}")
    assert result.returncode == 2 and "none.h5" in result.stderr  # the given one, tried


def test_evaluate_with_too_few_real_images_fails_in_one_line(trained_run, tmp_path,
                                                            tiny_backbone, run_cli):
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        Image.fromarray(np.full((64, 64, 3), 40 * i, np.uint8)).save(few / f"{i}.png")
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=20",
                     f"--backbone={tiny_backbone}", f"--data_dir={few}")
    assert result.returncode == 2
    assert f"--data_dir={few}: only 3 usable real image(s); the evaluation needs at least 10" \
        in result.stderr
    assert "Traceback" not in result.stderr and not (trained_run / "eval.json").exists()


def test_evaluate_a_run_without_a_generator_stops_before_decoding_data(trained_run,
                                                                       tiny_backbone,
                                                                       monkeypatch):
    from anime_gan.evaluation import evaluate

    shutil.rmtree(trained_run / "checkpoints")
    for name in ("generator.keras", "generator_ema.keras"):
        os.remove(trained_run / name)
    monkeypatch.setattr(evaluate, "real_features",
                        lambda *a, **k: pytest.fail("decoded the data first"))
    with pytest.raises(anime_gan.ConfigError, match="no generator saved in the run"):
        anime_gan.evaluate_run(str(trained_run), num_samples=20, backbone=tiny_backbone)


@pytest.mark.parametrize("name", ["eval.json", "evals.jsonl"])
def test_evaluate_refuses_a_report_path_that_is_a_folder_before_any_work(
        trained_run, tiny_backbone, image_folder, run_cli, monkeypatch, name):
    from anime_gan.evaluation import evaluate

    (trained_run / name).mkdir()
    monkeypatch.setattr(evaluate, "real_features",
                        lambda *a, **k: pytest.fail("measured the real images first"))
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=10",
                     f"--backbone={tiny_backbone}", f"--data_dir={image_folder}")
    assert result.returncode == 2
    assert f"{trained_run / name} is not a file: the evaluation is written there; move it " \
        "away, then evaluate again" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in trained_run.glob("eval*")) == [name]


def test_evaluate_of_a_run_whose_data_moved_asks_for_the_data_where_it_is_now(
        trained_run, tiny_backbone, tmp_path, run_cli):
    saved = json.loads((trained_run / "config.json").read_text())
    gone = str(tmp_path / "faces that moved")
    (trained_run / "config.json").write_text(json.dumps({**saved, "data_dir": gone}))
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=10",
                     f"--backbone={tiny_backbone}")
    assert result.returncode == 2
    assert f"the run in {trained_run} was trained on {gone}, which is not there any more; " \
        "give --data_dir=PATH where its images are now" in result.stderr
    assert "Traceback" not in result.stderr and not (trained_run / "eval.json").exists()


def test_evaluate_stopped_by_sigterm_says_so_and_exits_143(trained_run, tiny_backbone,
                                                          image_folder, run_cli, monkeypatch,
                                                          caplog):
    from anime_gan.evaluation import evaluate

    def terminated(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(evaluate, "generated_features", terminated)
    result = run_cli("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=20",
                     f"--backbone={tiny_backbone}", f"--data_dir={image_folder}")
    assert result.returncode == 143 and "Traceback" not in result.stderr
    assert (f"Stopped: {trained_run / 'eval.json'} is as it was; the same command evaluates "
            "the run") in caplog.text
    assert not (trained_run / "eval.json").exists()


def test_generate_streams_batch_by_batch_with_a_progress_bar(trained_run, monkeypatch, capsys):
    sizes = []
    real = anime_gan.sampling.images_from_latents

    def spy(generator, latents, *args, **kwargs):
        sizes.append(len(latents))
        return real(generator, latents, *args, **kwargs)

    monkeypatch.setattr(anime_gan.sampling, "images_from_latents", spy)
    out = anime_gan.generate_run(str(trained_run), 70, seed=2, batch_size=16)
    assert sizes == [16, 16, 16, 16, 6]  # never more than one batch in memory
    assert len([n for n in os.listdir(out) if n[:5].isdigit()]) == 70
    assert Image.open(os.path.join(out, "grid.png")).size == (8 * 64, 8 * 64)  # the first 64
    assert "70/70" in capsys.readouterr().out


def test_generate_again_with_fewer_images_leaves_only_the_new_output(trained_run, caplog):
    out = anime_gan.generate_run(str(trained_run), 6, seed=3, interpolate=True)
    mine = os.path.join(out, "notes.txt")  # not the mode's own: kept
    open(mine, "w").close()
    caplog.set_level("INFO", logger="anime_gan.commands")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    open(os.path.join(out, f".tmp-{dead.pid}-00005.png"), "w").close()  # a killed call's
    anime_gan.generate_run(str(trained_run), 2, seed=3)
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png", "grid.png", "notes.txt"]
    assert "Removed 9 file(s) of an earlier --mode=generate" in caplog.text


def test_generate_refused_for_too_many_images_keeps_the_earlier_output(trained_run,
                                                                      monkeypatch):
    out = anime_gan.generate_run(str(trained_run), 3, seed=5)
    before = sorted(os.listdir(out))

    def out_of_memory(*args):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM")
    monkeypatch.setattr(anime_gan.sampling, "seeded_latents", out_of_memory)
    with pytest.raises(anime_gan.ConfigError, match="too many for this machine's memory"):
        anime_gan.generate_run(str(trained_run), 10**9, seed=5)
    assert sorted(os.listdir(out)) == before == ["00000.png", "00001.png", "00002.png",
                                                 "grid.png"]


def test_generate_stopped_holds_only_its_own_first_images(trained_run, monkeypatch, caplog):
    out = anime_gan.generate_run(str(trained_run), 6, seed=4, interpolate=True)
    real, batches = anime_gan.sampling.images_from_latents, []

    def stopped_after_one_batch(generator, latents, *args, **kwargs):
        if batches:
            raise KeyboardInterrupt
        batches.append(real(generator, latents, *args, **kwargs))
        return batches[-1]

    monkeypatch.setattr(anime_gan.sampling, "images_from_latents", stopped_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        anime_gan.generate_run(str(trained_run), 6, seed=4, batch_size=2)
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png"]
    assert f"Stopped: {out} holds the first images of 6 asked for, without grid.png" in \
        caplog.text


def test_generate_into_a_folder_it_cannot_write_is_one_line(trained_run, run_cli, monkeypatch):
    def read_only(path, *args, **kwargs):
        raise PermissionError(13, "Read-only file system", path)

    monkeypatch.setattr(os, "makedirs", read_only)
    result = run_cli("--mode=generate", "--num_images=2", f"--output_dir={trained_run}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --output_dir={trained_run}: cannot write the images in "
        f"{trained_run / 'generated' / 'seed_0'} (Read-only file system)"]


@pytest.mark.slow
def test_generate_more_images_than_memory_holds_is_one_line(trained_run, run_cli):
    result = run_cli("--mode=generate", f"--output_dir={trained_run}",
                     "--num_images=99999999999")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: --num_images=99999999999: too many for this machine's memory" \
        in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists(trained_run / "generated")  # refused before anything is made


def test_a_stopped_generate_says_what_it_left(trained_run, monkeypatch, run_cli, caplog):
    """SIGTERM (as Terminated) after the first batch: exit 143 and a line saying so."""
    real = anime_gan.sampling.images_from_latents
    calls = []

    def stop_on_the_second_batch(generator, latents, *args, **kwargs):
        calls.append(len(latents))
        if len(calls) == 2:
            raise Terminated("SIGTERM")
        return real(generator, latents, *args, **kwargs)

    monkeypatch.setattr(anime_gan.sampling, "images_from_latents", stop_on_the_second_batch)
    monkeypatch.setattr(anime_gan.commands, "generate_run",
                        functools.partial(anime_gan.commands.generate_run, batch_size=4))
    result = run_cli("--mode=generate", f"--output_dir={trained_run}", "--num_images=10")
    assert result.returncode == 143
    out = trained_run / "generated" / "seed_0"
    assert sorted(os.listdir(out)) == [f"{i:05d}.png" for i in range(4)]
    assert f"Stopped: {out} holds the first images of 10 asked for, without grid.png" \
        in caplog.text


def test_evaluate_run_names_num_samples_when_it_is_too_small(tmp_path):
    with pytest.raises(ValueError, match="evaluate_run: num_samples=5 must be a whole number, "
                                         "at least 10"):
        anime_gan.evaluate_run(tmp_path, num_samples=5)


def test_a_stopped_export_leaves_the_earlier_export_and_no_lock(trained_run, monkeypatch,
                                                                run_cli, caplog):
    """SIGTERM while the SavedModel is written: exit 143, the earlier export as it was."""
    import keras

    before = sorted(os.listdir(trained_run / "export"))
    make_archive = keras.export.ExportArchive

    def archive_terminated_while_writing():
        archive = make_archive()
        write_out = archive.write_out

        def terminated_while_writing(*args, **kwargs):
            write_out(*args, **kwargs)
            signal.raise_signal(signal.SIGTERM)
        archive.write_out = terminated_while_writing
        return archive

    monkeypatch.setattr(keras.export, "ExportArchive", archive_terminated_while_writing)
    result = run_cli("--mode=export", f"--output_dir={trained_run}")
    assert result.returncode == 143
    assert f"Stopped: {trained_run / 'export'} is as it was" in caplog.text
    assert sorted(os.listdir(trained_run / "export")) == before
    assert not os.path.exists(f"{trained_run / 'export'}.tmp")
    monkeypatch.undo()
    caplog.clear()
    assert run_cli("--mode=export", f"--output_dir={trained_run}").returncode == 0
    assert "lock" not in caplog.text.lower()  # released, not taken over from a dead process


def test_a_report_added_after_a_line_a_kill_cut_short_starts_a_line_of_its_own(tmp_path):
    from anime_gan.files import append_json_line

    path = tmp_path / "evals.jsonl"
    append_json_line(path, {"fid": 1.0})
    with open(path, "a") as f:
        f.write('{"fid": 2')  # killed while writing
    append_json_line(path, {"fid": 3.0})
    lines = path.read_text().splitlines()
    assert [json.loads(lines[0]), lines[1], json.loads(lines[2])] == [
        {"fid": 1.0}, '{"fid": 2', {"fid": 3.0}]


def test_generate_into_a_file_writes_its_progress_as_one_line(trained_run, tmp_path):
    """``anime-gan --mode=generate ... > log``: not each redraw and its colour codes."""
    with open(tmp_path / "log", "w+") as log, contextlib.redirect_stdout(log):
        anime_gan.generate_run(str(trained_run), num_images=4, batch_size=2)
    text = (tmp_path / "log").read_text()
    assert text.startswith("4/4 - ") and text.count("\n") == 1 and "\x1b" not in text


def test_evaluate_given_both_a_data_folder_and_a_tfds_data_set_is_refused(
        trained_run, tiny_backbone, image_folder):
    with pytest.raises(anime_gan.ConfigError, match="give either data_dir or dataset, not both"):
        anime_gan.evaluate_run(str(trained_run), num_samples=20, data_dir=str(image_folder),
                               dataset="tfds:anime_faces", backbone=tiny_backbone)
    assert not os.path.exists(trained_run / "eval.json")
    assert not os.path.exists(trained_run / "evals.jsonl")


def test_evaluate_keeps_the_real_features_in_the_runs_cache_folder(trained_run, tiny_backbone,
                                                                   image_folder, tmp_path):
    from anime_gan.evaluation import features

    settings = json.loads((trained_run / "config.json").read_text())
    settings["cache_dir"] = str(tmp_path / "cache")
    os.makedirs(settings["cache_dir"])  # as training left it
    (trained_run / "config.json").write_text(json.dumps(settings))
    anime_gan.evaluate_run(str(trained_run), num_samples=10, data_dir=str(image_folder),
                           backbone=tiny_backbone)
    assert [f[:len("real_features-")] for f in os.listdir(tmp_path / "cache")] == \
        ["real_features-"]
    assert not os.path.exists(os.path.join(image_folder, features.CACHE_FOLDER))

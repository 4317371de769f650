"""The model comparison: runs kept as JSON, resumed across sessions, table and plot."""

import json
import os

import numpy as np
import pytest
from absl import flags

from anime_gan import compare


def test_pixel_std_is_the_mean_per_pixel_spread():
    same = np.full((5, 2, 2, 3), 100, np.uint8)
    assert compare.pixel_std(same) == 0.0
    two = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)])
    assert compare.pixel_std(two) == pytest.approx(0.5)  # values 0 and 1: std 0.5


def test_steps_for_a_budget_of_real_images():
    assert compare.steps_for(64_000, 64, "dcgan") == 1000
    assert compare.steps_for(64_000, 64, "wgan") == 200  # 5 real batches a step
    assert compare.steps_for(10, 64, "sngan") == 1


def fake_result(config, seed, fd):
    return {"config": config, "seed": seed, "points": [
        {"real_images": 100, "fid": fd * 2, "kid_mean": 0.01, "precision": 0.5, "recall": 0.4,
         "pixel_std": 0.2, "train_minutes": 1.0},
        {"real_images": 200, "fid": fd, "kid_mean": 0.02, "precision": 0.6, "recall": 0.5,
         "pixel_std": 0.25, "train_minutes": 2.0, "train_cpu_minutes": 3.0 + seed}]}


def test_table_gives_mean_and_spread_over_seeds_and_the_plot_is_written(tmp_path):
    results = [fake_result("dcgan", 0, 1.0), fake_result("dcgan", 1, 3.0),
               fake_result("sngan", 0, 2.0)]
    text = compare.table(results, reference_std=0.242)
    assert "| dcgan | 2 | 200 | 2.00 +- 1.00 | 20.0 +- 0.0 | 0.60 +- 0.00 |" in text
    assert "| sngan | 1 | 200 | 2.00 | 20.0 |" in text
    assert "| 0.250 +- 0.000 | 2.0 +- 0.0 | 3.5 +- 0.5 |" in text.splitlines()[2]
    assert text.splitlines()[-1] == "| real faces | | | | | | | 0.242 | | |"
    older = fake_result("wgan", 0, 1.0)
    del older["points"][-1]["train_cpu_minutes"]  # kept before CPU minutes were
    assert compare.table([older]).splitlines()[-1].endswith("| 2.0 | - |")
    assert os.path.getsize(compare.plot(results, str(tmp_path / "fd.png"))) > 1000


@pytest.mark.slow
def test_compare_trains_evaluates_keeps_and_skips(image_folder, tiny_backbone, tmp_path, capsys):
    flag_values = flags.FlagValues()
    compare.define_flags(flag_values)
    flag_values(["compare", "--configs=dcgan", "--seeds=0", "--images=8,16", "--batch_size=4",
                 f"--data_dir={image_folder}", f"--backbone={tiny_backbone}",
                 "--eval_samples=12", f"--results_dir={tmp_path / 'results'}",
                 f"--runs_dir={tmp_path / 'runs'}"])
    compare.main(["compare"], flag_values)
    kept = json.loads((tmp_path / "results" / "dcgan-seed0-16.json").read_text())
    assert [p["real_images"] for p in kept["points"]] == [8, 16]
    assert [p["generator_steps"] for p in kept["points"]] == [2, 4]
    assert all(np.isfinite(p["fid"]) and 0 < p["pixel_std"] < 0.5 for p in kept["points"])
    assert 0 < kept["points"][0]["train_cpu_minutes"] <= kept["points"][1]["train_cpu_minutes"]
    assert "| dcgan | 1 | 16 |" in capsys.readouterr().out
    before = (tmp_path / "results" / "dcgan-seed0-16.json").stat().st_mtime
    compare.main(["compare"], flag_values)  # kept: not trained again
    assert (tmp_path / "results" / "dcgan-seed0-16.json").stat().st_mtime == before

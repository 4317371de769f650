"""The model comparison: runs kept as JSON, resumed across sessions, table and plot."""

import json
import os

import numpy as np
import pytest
from absl import flags

from anime_gan import compare
from anime_gan import comparison_report as report


def test_pixel_std_is_the_mean_per_pixel_spread():
    same = np.full((5, 2, 2, 3), 100, np.uint8)
    assert compare.pixel_std(same) == 0.0
    two = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)])
    assert compare.pixel_std(two) == pytest.approx(0.5)  # values 0 and 1: std 0.5


def test_steps_for_a_budget_of_real_images():
    assert compare.steps_for(64_000, 64, "dcgan") == 1000
    assert compare.steps_for(64_000, 64, "wgan") == 200  # 5 real batches a step
    assert compare.steps_for(10, 64, "sngan") == 1


def fake_result(config, seed, fd, cpu="Intel(R) Xeon(R) Processor"):
    return {"config": config, "seed": seed, "cpu": cpu, "points": [
        {"real_images": 100, "fid": fd * 2, "kid_mean": 0.01, "precision": 0.5, "recall": 0.4,
         "pixel_std": 0.2, "train_minutes": 1.0},
        {"real_images": 200, "fid": fd, "kid_mean": 0.02, "precision": 0.6, "recall": 0.5,
         "pixel_std": 0.25, "train_minutes": 2.0, "train_cpu_minutes": 3.0 + seed}]}


def test_table_gives_mean_and_spread_over_seeds_and_the_plot_is_written(tmp_path):
    results = [fake_result("dcgan", 0, 1.0), fake_result("dcgan", 1, 3.0),
               fake_result("sngan", 0, 2.0)]
    text = report.table(results, reference_std=0.242)
    assert "| dcgan | 2 | 200 | 2.00 +- 1.00 | 20.0 +- 0.0 | 0.60 +- 0.00 |" in text
    assert "| sngan | 1 | 200 | 2.00 | 20.0 |" in text
    assert text.splitlines()[2].endswith("| 0.250 +- 0.000 | 3.5 +- 0.5 | Intel Xeon | yes |")
    assert text.splitlines()[-1] == "| real faces | | | | | | | 0.242 | | | |"
    older = fake_result("wgan", 0, 1.0)
    del older["points"][-1]["train_cpu_minutes"]  # kept before CPU minutes were
    assert report.table([older]).splitlines()[-1].endswith("| 0.250 | - | Intel Xeon | yes |")
    assert os.path.getsize(report.plot(results, str(tmp_path / "fd.png"))) > 1000


def test_each_row_names_the_cpus_its_runs_trained_on():
    assert report.cpu_label("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz") == "Intel Core i7-8700"
    assert report.cpu_label(None) == "unknown"
    results = [fake_result("wgan", 0, 1.0, cpu="AMD EPYC"), fake_result("wgan", 1, 1.0),
               fake_result("wgan", 2, 1.0), fake_result("sngan", 0, 1.0, cpu="AMD EPYC")]
    rows = report.table(results).splitlines()[2:]
    assert [row.split(" | ")[-2] for row in rows] == ["AMD EPYC", "AMD EPYC x1, Intel Xeon x2"]


def test_a_config_kept_at_two_budgets_gives_two_rows_and_its_points_count_once():
    short = fake_result("dcgan", 0, 1.0)
    longer = fake_result("dcgan", 0, 1.0)
    longer["points"].append({**longer["points"][-1], "real_images": 300, "fid": 0.5})
    other_seed = fake_result("dcgan", 1, 3.0)
    rows = report.table([short, longer, other_seed]).splitlines()[2:]
    assert [row.split(" | ")[:3] for row in rows] == [["| dcgan", "2", "200"],
                                                      ["| dcgan", "1", "300"]]
    images, fd, seeds, cpu = report.fd_lines([short, longer, other_seed])["dcgan"]
    assert images == [100, 200, 300]
    assert fd == [4.0, 2.0, 0.5]  # seed 0 once at 100 and 200 (2 and 1), seed 1 (6 and 3)
    assert seeds == 2
    # CPU minutes: none kept at 100; seeds 0 and 1 at 200 (3 and 4); seed 0 at 300.
    assert np.isnan(cpu[0]) and cpu[1:] == [3.5, 3.0]


def with_final(result, **figures):
    result["points"][-1].update(figures)
    return result


def test_a_config_keeps_variety_with_enough_recall_and_pixel_spread():
    point = {"recall": 0.1, "pixel_std": 0.15}
    assert report.keeps_variety([point], reference_std=0.25)  # 0.15 = 60% of 0.25
    assert not report.keeps_variety([point], reference_std=0.26)
    assert report.keeps_variety([point])  # real faces' spread unknown: recall alone
    assert not report.keeps_variety([{**point, "recall": 0.09}])
    # The mean over seeds decides: recall 0.05 and 0.2 average 0.125.
    assert report.keeps_variety([{**point, "recall": 0.05}, {**point, "recall": 0.2}])


def test_each_model_s_best_config_is_the_closest_that_keeps_variety():
    results = [
        with_final(fake_result("sngan", 0, 0.4), recall=0.05),  # closest, but few faces
        with_final(fake_result("sngan+da", 0, 0.5), recall=0.3),
        with_final(fake_result("sngan+da", 1, 1.5), recall=0.3),  # mean FD 1.0
        with_final(fake_result("dcgan", 0, 2.0), recall=0.3),
        with_final(fake_result("dcgan+da", 0, 0.9), recall=0.3),
        with_final(fake_result("dcgan+da", 0, 0.1), recall=0.3, real_images=400),  # longer
        with_final(fake_result("wgan_clip", 0, 50.0), recall=0.0),
    ]
    assert report.best_configs(results, 200, reference_std=0.3) == {
        "dcgan": "dcgan+da", "sngan": "sngan+da", "wgan_clip": None}
    # At 60% of 0.5 = 0.3 the pixel std of 0.25 falls short: no configuration keeps it.
    assert set(report.best_configs(results, 200, reference_std=0.5).values()) == {None}
    text = report.verdict(results, 200, reference_std=0.3)
    assert "  dcgan: dcgan+da (FD 0.90, CPU minutes 3.0)" in text
    assert "  sngan: sngan+da (FD 1.00, CPU minutes 3.5)" in text
    assert "  wgan_clip: none keeps variety" in text
    assert "wgan:" not in text  # no run of it
    assert [report.model_of(name) for name in compare.CONFIGS] == [
        model for model in compare.MODELS for _ in range(2)]


def test_stretch_seconds_counts_a_resumed_stretch_at_its_measured_rate():
    assert compare.stretch_seconds((10.0, 20.0), 100, 100, (0.0, 0.0), 0) == (10.0, 20.0)
    # Stopped after 60 of 100 steps: the 40 trained now took 8 s, so 100 take 20 s.
    assert compare.stretch_seconds((8.0, 16.0), 100, 40, (50.0, 90.0), 200) == (20.0, 40.0)
    # Trained entirely before a stop during its evaluation: the earlier rate, 0.25 s a step.
    assert compare.stretch_seconds((1.0, 1.0), 100, 0, (50.0, 90.0), 200) == (25.0, 45.0)


def _kept(tmp_path, name, seed, steps, batch_size=4):
    result = {"config": name, "seed": seed, "batch_size": batch_size, "points": [
        {"real_images": s * batch_size, "generator_steps": s, "fid": 1.0} for s in steps]}
    path = tmp_path / "results" / f"{name}-seed{seed}-{steps[-1] * batch_size}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def test_earlier_result_continues_a_kept_run_whose_folder_is_there(tmp_path):
    results, runs = str(tmp_path / "results"), str(tmp_path / "runs")
    kept = _kept(tmp_path, "dcgan", 0, [2, 4])
    _kept(tmp_path, "dcgan", 1, [2, 4])
    find = lambda points, seed=0: compare.earlier_result(results, runs, "dcgan", seed,
                                                         points, 4)
    assert find([8, 16, 32]) is None  # no run folder: nothing to continue
    (tmp_path / "runs" / "dcgan-seed0").mkdir(parents=True)
    assert find([8, 16, 32]) == kept
    assert find([8, 16]) == kept  # the caller skips it: its result is kept
    with pytest.raises(ValueError, match="other budgets"):
        find([4, 16, 32])
    # The folder's own record of later points wins over the kept result.
    progress = {**kept, "points": kept["points"] + [{"real_images": 32,
                                                     "generator_steps": 8, "fid": 0.5}]}
    (tmp_path / "runs" / "dcgan-seed0" / compare.PROGRESS_FILE).write_text(
        json.dumps(progress))
    assert find([8, 16, 32, 64]) == progress
    (tmp_path / "runs" / "dcgan-seed2").mkdir()
    assert find([8, 16], seed=2) is None  # a first stretch stopped: resumed as before


def test_table_only_without_kept_results_says_so_and_leaves_no_folder(tmp_path, capsys):
    flag_values = flags.FlagValues()
    compare.define_flags(flag_values)
    flag_values(["compare", "--table_only", f"--results_dir={tmp_path / 'nothing'}"])
    with pytest.raises(ValueError, match=r"--results_dir=.*nothing: no kept results there to "
                                         r"tabulate .*; run without --table_only"):
        compare.main(["compare"], flag_values)
    assert not (tmp_path / "nothing").exists()
    assert capsys.readouterr().out == ""


def test_table_only_names_the_measuring_flags_it_ignores(capsys):
    flag_values = flags.FlagValues()
    compare.define_flags(flag_values)
    flag_values(["compare", "--table_only", "--data_dir=faces", "--seeds=4", "--images=100",
                 "--eval_samples=50", "--results_dir=kept"])
    compare.check_flags(flag_values)
    assert capsys.readouterr().err == ("warning: --table_only shows the kept results; "
                                       "--data_dir, --eval_samples, --seeds ignored\n")
    flag_values.unparse_flags()
    flag_values(["compare", "--table_only", "--images=100"])  # the verdict's budget: used
    compare.check_flags(flag_values)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("flags_given, message", [
    (["--configs=dcgan,foo"], r"--configs: no configuration foo; choose from dcgan, dcgan\+da"),
    (["--seeds=0,one"], "--seeds=0,one: must be whole numbers, comma-separated"),
    (["--images="], "--images: give at least one"),
    (["--backbone="], "--backbone: give the feature network, a .keras file"),
    (["--data_dir="], "--data_dir: give the real images to train on and compare with"),
    # wgan+da sees 16 x 5 = 80 images a step: 64 and 128 both take one step
    (["--configs=wgan+da", "--images=64,128", "--longer_images=", "--batch_size=16"],
     r"--images: wgan\+da sees 80 real images a step at --batch_size=16, so two of its "
     r"budgets \(64,128\) take as many steps; give budgets at least 80 apart"),
    (["--configs=dcgan+da", "--images=640", "--longer_images=700", "--batch_size=64"],
     r"dcgan\+da sees 64 real images a step"),  # the default config's longer budget too
])
def test_flags_that_cannot_work_are_refused_before_any_work(flags_given, message, tmp_path):
    flag_values = flags.FlagValues()
    compare.define_flags(flag_values)
    flag_values(["compare", f"--results_dir={tmp_path / 'results'}", "--data_dir=faces",
                 "--backbone=features.keras", *flags_given])
    with pytest.raises(ValueError, match=message):
        compare.main(["compare"], flag_values)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("stop, status", [(compare.TrainingFault("disk full"), 1),
                                          (KeyboardInterrupt(), 130),
                                          (__import__("anime_gan").errors.Terminated(), 143)])
def test_a_stop_or_fault_ends_with_its_exit_status_and_no_traceback(stop, status, monkeypatch,
                                                                    capsys):
    def stopped(argv):
        raise stop

    quieted = []
    monkeypatch.setattr(compare, "main", stopped)
    monkeypatch.setattr(compare, "set_up_log_handlers", lambda: quieted.append(True))
    with pytest.raises(SystemExit) as exit_info:
        compare._main(["compare"])
    assert exit_info.value.code == status
    assert capsys.readouterr().err == ("error: disk full\n" if status == 1 else "")
    assert quieted  # TensorFlow's routine INFO (saving, signatures) is held back, as by anime-gan


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
    # ... but not shown as the figures of other data or another sample count.
    for flag, value in [("data_dir", str(tmp_path)), ("eval_samples", 13)]:
        saved = flag_values[flag].value
        flag_values[flag].value = value
        with pytest.raises(ValueError, match=f"dcgan-seed0-16.json was measured otherwise "
                                             f"\\({flag} .* there, .* now\\); use another"):
            compare.main(["compare"], flag_values)
        flag_values[flag].value = saved

    # A larger budget continues the kept run: its points and minutes carry over.  This
    # one is made as old as the first comparison runs: no record of its points in its
    # folder and no CPU minutes, so its total CPU stays unknown.
    (tmp_path / "runs" / "dcgan-seed0" / compare.PROGRESS_FILE).unlink()
    for point in kept["points"]:
        del point["train_cpu_minutes"]
    (tmp_path / "results" / "dcgan-seed0-16.json").write_text(json.dumps(kept))
    before = (tmp_path / "results" / "dcgan-seed0-16.json").stat().st_mtime
    flag_values["images"].value = ["8", "16", "24"]
    compare.main(["compare"], flag_values)
    longer = json.loads((tmp_path / "results" / "dcgan-seed0-24.json").read_text())
    assert longer["points"][:2] == kept["points"]
    assert longer["points"][2]["generator_steps"] == 6
    assert longer["points"][2]["train_minutes"] > kept["points"][1]["train_minutes"]
    assert "train_cpu_minutes" not in longer["points"][2]
    assert (tmp_path / "results" / "dcgan-seed0-16.json").stat().st_mtime == before
    table = capsys.readouterr().out
    assert "| dcgan | 1 | 16 |" in table and "| dcgan | 1 | 24 |" in table


def test_plan_runs_every_config_and_seed_then_each_default_config_longer(monkeypatch):
    monkeypatch.setattr(compare, "DIFFAUGMENT_DEFAULTS",
                        {"dcgan": "color", "wgan": "", "wgan_clip": "", "sngan": ""})
    runs = compare.plan(["dcgan", "dcgan+da", "wgan", "sngan+da"], [3, 4], [200, 100],
                        [400, 300, 50])
    assert runs[:8] == [(name, seed, [100, 200]) for name in
                        ("dcgan", "dcgan+da", "wgan", "sngan+da") for seed in (3, 4)]
    # Defaults here: the DCGAN with DiffAugment, the others without (sngan's and
    # wgan_clip's are not among the configurations).
    assert runs[8:] == [("dcgan+da", 3, [100, 200, 300, 400]), ("wgan", 3, [100, 200, 300, 400])]
    assert compare.plan(["wgan"], [0], [100], []) == [("wgan", 0, [100])]


def test_the_defaults_are_the_best_configurations_of_the_kept_comparison():
    """DiffAugment is on by default for a model exactly when the kept table says it is
    that model's best configuration; a model none of whose configurations keeps variety
    keeps its paper's setting (no DiffAugment)."""
    results_dir = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "comparison")
    results = [r for r in report.load_results(results_dir) if "config" in r]
    with open(os.path.join(results_dir, "reference.json")) as f:
        reference = json.load(f)["pixel_std"]
    best = report.best_configs(results, 64_000, reference)
    assert set(best) == set(compare.MODELS)
    for model, name in best.items():
        assert compare.default_config(model) == (name or model)

"""A fair comparison of the models: ``python -m anime_gan.compare [flags]``.

Every configuration (a model and its settings) trains with each seed on the same data,
batch size and budget of real images seen, and is evaluated at several points on the way:
Frechet distance, KID and precision/recall between ``--eval_samples`` generated and real
images in the features of ``--backbone``, and variety, the per-pixel standard deviation
across the generated images (the real images' is the reference: a model that wins on FD by
losing variety is no winner).  Each finished run is kept as a small JSON file in
``--results_dir``; runs already there are not trained again, so the table grows across
sessions.  The table (mean and spread over seeds) and a plot of FD against real images seen
are written last.
"""

import os
import sys
import time

import keras
import numpy as np
from absl import app, flags

from anime_gan.cli import set_up_log_handlers
from anime_gan.measure import cpu_name
from anime_gan.config import DIFFAUGMENT_DEFAULTS, MODELS, N_CRITIC_DEFAULTS
from anime_gan.comparison_report import (config_name, load_results, pixel_std, plot, table,
                                         verdict)
from anime_gan.data.pipeline import load_images
from anime_gan.errors import TrainingFault
from anime_gan.evaluation import compare, generated_features, load_backbone, real_features
from anime_gan.files import read_json, save_json
from anime_gan.sampling import load_generator, sample
from anime_gan.training import train

PROGRESS_FILE = "comparison_points.json"  # in the run folder, rewritten at each point
DIFFAUGMENT = "color,translation,cutout"
# name -> TrainConfig settings; every other setting is the model's default (EMA included).
CONFIGS = {config_name(model, da): {"model": model, "diffaugment": DIFFAUGMENT if da else ""}
           for model in MODELS for da in (False, True)}


def define_flags(flag_values=flags.FLAGS):
    define = dict(flag_values=flag_values)
    flags.DEFINE_list("configs", list(CONFIGS), f"Configurations: {', '.join(CONFIGS)}.",
                      **define)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of each configuration.", **define)
    flags.DEFINE_list("images", ["16000", "32000", "64000"],
                      "Real images seen at which each run is evaluated; the last is its budget.",
                      **define)
    flags.DEFINE_list("longer_images", ["128000", "192000"],
                      "Then each model's default configuration, with the first seed, trains "
                      "on to these budgets (evaluated at each); empty: none.", **define)
    flags.DEFINE_integer("batch_size", 64, "Batch size (per discriminator update).",
                         lower_bound=1, **define)
    flags.DEFINE_string("data_dir", None, "The real images.", **define)
    flags.DEFINE_string("backbone", None, "Feature network (a .keras file).", **define)
    flags.DEFINE_integer("eval_samples", 10_000, "Generated and real images compared.",
                         lower_bound=10, **define)
    flags.DEFINE_string("results_dir", "docs/comparison", "Where each run's JSON is kept.",
                        **define)
    flags.DEFINE_string("runs_dir", "runs/compare", "Where the runs are trained.", **define)
    flags.DEFINE_boolean("table_only", False, "Only print the table of the kept results.",
                         **define)


def steps_for(images, batch_size, model):
    return max(1, images // (batch_size * N_CRITIC_DEFAULTS[model]))


def stretch_seconds(measured, stretch_steps, counted_steps, seconds_before, steps_before):
    """(wall, CPU) seconds of a stretch of ``stretch_steps`` training steps, of which this
    call trained ``counted_steps`` in ``measured`` seconds: a stretch resumed after a stop
    is counted for all its steps at the rate measured, and one trained entirely before
    the stop (stopped while it was evaluated) at the rate of the stretches before it."""
    if counted_steps >= stretch_steps:
        return measured
    if counted_steps:
        return tuple(t * stretch_steps / counted_steps for t in measured)
    if steps_before:
        return tuple(t * stretch_steps / steps_before for t in seconds_before)
    return measured


class StepCounter(keras.callbacks.Callback):
    """Counts the training steps taken in this call of ``train``."""

    steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def run_one(name, seed, points, batch_size, data_dir, backbone, eval_samples, runs_dir,
            earlier=None):
    """Trains configuration ``name`` with ``seed``, evaluating at each budget in ``points``.

    ``earlier``, a kept result of the same run whose budgets begin ``points``, is continued:
    its run folder trains on from where it stopped, its points and minutes are kept."""
    settings = CONFIGS[name]
    about = {"config": name, "settings": settings, "seed": seed, "batch_size": batch_size,
             "eval_samples": eval_samples, "backbone": backbone.key, "data_dir": data_dir,
             "cpu": cpu_name(), "cores": os.cpu_count()}
    out = os.path.join(runs_dir, f"{name}-seed{seed}")
    real = real_features(backbone, 64, eval_samples, data_dir, seed=0)
    results, trained_seconds, cpu_seconds, done_steps = [], 0.0, 0.0, 0
    if earlier:
        results = [dict(p) for p in earlier["points"]]
        trained_seconds = results[-1]["train_minutes"] * 60
        # NaN when the kept run predates the CPU clock: its total stays unknown.
        cpu_seconds = results[-1].get("train_cpu_minutes", float("nan")) * 60
        done_steps = results[-1]["generator_steps"]
    for images in points[len(results):]:
        steps = steps_for(images, batch_size, settings["model"])
        started, cpu_started = time.perf_counter(), time.process_time()
        counter = StepCounter()
        # One epoch per stretch between evaluation points; a rerun resumes the folder.
        train(output_dir=out, data_dir=data_dir, batch_size=batch_size, seed=seed,
              steps_per_epoch=max(1, steps - done_steps), epochs=len(results) + 1,
              checkpoint_every=0, live=False, callbacks=[counter], **settings)
        wall, cpu = stretch_seconds(
            (time.perf_counter() - started, time.process_time() - cpu_started),
            steps - done_steps, counter.steps, (trained_seconds, cpu_seconds), done_steps)
        trained_seconds, cpu_seconds = trained_seconds + wall, cpu_seconds + cpu
        done_steps = steps
        generator = load_generator(out)
        fake = generated_features(generator, backbone, eval_samples, seed=1000)
        figures = compare(real, fake)
        results.append({"real_images": steps * batch_size * N_CRITIC_DEFAULTS[settings["model"]],
                        "generator_steps": steps, "train_minutes": trained_seconds / 60,
                        **({"train_cpu_minutes": cpu_seconds / 60}
                           if np.isfinite(cpu_seconds) else {}),
                        "pixel_std": pixel_std(sample(generator, eval_samples, seed=2000)),
                        **figures})
        save_json(os.path.join(out, PROGRESS_FILE), {**about, "points": results})
    return {**about, "points": results}


def earlier_result(results_dir, runs_dir, name, seed, points, batch_size):
    """The furthest evaluated state of run ``name``/``seed`` that ``points`` continue: the
    run folder's own record, else a kept result (an earlier, smaller budget); None when
    there is no run folder to continue."""
    folder = os.path.join(runs_dir, f"{name}-seed{seed}")
    if not os.path.isdir(folder):
        return None
    progress = os.path.join(folder, PROGRESS_FILE)
    if os.path.exists(progress):
        candidates = [read_json(progress)]
    else:
        candidates = [r for r in load_results(results_dir)
                      if r.get("config") == name and r.get("seed") == seed
                      and r.get("batch_size") == batch_size]
    model = CONFIGS[name]["model"]
    wanted = [steps_for(images, batch_size, model) for images in points]
    best = None
    for candidate in candidates:
        kept = [p["generator_steps"] for p in candidate["points"]]
        if kept == wanted[:len(kept)] and (best is None or len(kept) > len(best["points"])):
            best = candidate
    if best is None and candidates:
        raise ValueError(f"{folder} holds a run evaluated at other budgets than --images; "
                         "move it away to train this one")
    return best


SAME_MEASURE = ("data_dir", "backbone", "eval_samples", "batch_size")
# What --table_only ignores: it shows the kept results, however they were measured.
TABLE_ONLY_IGNORES = (*SAME_MEASURE, "configs", "seeds", "longer_images", "runs_dir")


def check_same_measure(kept, wanted, where):
    """Refuses a kept result (or run) measured on other data, with another backbone, sample
    count or batch size: its figures would be shown as this comparison's."""
    differ = [f"{key} {kept[key]!r} there, {wanted[key]!r} now" for key in SAME_MEASURE
              if key in wanted and key in kept and _normal(kept[key]) != _normal(wanted[key])]
    if differ:
        raise ValueError(f"{where} was measured otherwise ({'; '.join(differ)}); use another "
                         "--results_dir and --runs_dir, or move it away")


def _normal(value):
    """A folder as an absolute path (the shipped results name it so), other values as they are."""
    if isinstance(value, str) and os.sep in value and not value.startswith("kaggle:"):
        return os.path.abspath(value)
    return value


def default_config(model):
    """The configuration that is ``model``'s default (with DiffAugment or without)."""
    return config_name(model, DIFFAUGMENT_DEFAULTS[model])


def plan(configs, seeds, images, longer_images):
    """(config, seed, budgets) of every run: each configuration and seed at ``images``;
    then, with the first seed, each model's default configuration among ``configs`` trained
    on to each of ``longer_images`` (continuing its run at the last of ``images``)."""
    points = sorted(images)
    runs = [(name, seed, points) for name in configs for seed in seeds]
    longer = sorted(n for n in longer_images if n > points[-1])
    if longer:
        runs += [(default_config(model), seeds[0], points + longer) for model in MODELS
                 if default_config(model) in configs]
    return runs


def check_flags(FLAGS):
    """A flag that cannot work is a one-line refusal before any training."""
    unknown = [name for name in FLAGS.configs if name not in CONFIGS]
    if unknown:
        raise ValueError(f"--configs: no configuration {', '.join(unknown)}; choose from "
                         f"{', '.join(CONFIGS)}")
    for flag in ("configs", "seeds", "images"):
        if not FLAGS[flag].value:
            raise ValueError(f"--{flag}: give at least one")
    for flag in ("seeds", "images", "longer_images"):
        if not all(value.isdigit() for value in FLAGS[flag].value):
            raise ValueError(f"--{flag}={','.join(FLAGS[flag].value)}: must be whole "
                             "numbers, comma-separated")
    if FLAGS.table_only:
        ignored = ", ".join(f"--{name}" for name in TABLE_ONLY_IGNORES if FLAGS[name].present)
        if ignored:
            print(f"warning: --table_only shows the kept results; {ignored} ignored",
                  file=sys.stderr)
        return
    for flag, what in (("data_dir", "the real images to train on and compare with"),
                       ("backbone", "the feature network, a .keras file (the project's: "
                                    "../shared/models/anime-rotnet-features.keras)")):
        if not FLAGS[flag].value:
            raise ValueError(f"--{flag}: give {what}")
    for name, _, points in plan(FLAGS.configs, [0], list(map(int, FLAGS.images)),
                                list(map(int, FLAGS.longer_images))):
        per_step = FLAGS.batch_size * N_CRITIC_DEFAULTS[CONFIGS[name]["model"]]
        if len({steps_for(images, FLAGS.batch_size, CONFIGS[name]["model"])
                for images in points}) < len(points):
            raise ValueError(f"--images: {name} sees {per_step} real images a step at "
                             f"--batch_size={FLAGS.batch_size}, so two of its budgets "
                             f"({','.join(map(str, points))}) take as many steps; give "
                             f"budgets at least {per_step} apart")


def main(argv, flag_values=flags.FLAGS):
    FLAGS = flag_values
    check_flags(FLAGS)
    if FLAGS.table_only and not any("config" in r for r in load_results(FLAGS.results_dir)):
        raise ValueError(f"--results_dir={FLAGS.results_dir}: no kept results there to "
                         "tabulate (the project's own are in docs/comparison of its clone); "
                         "run without --table_only to measure them")
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    reference_path = os.path.join(FLAGS.results_dir, "reference.json")
    if not FLAGS.table_only:
        backbone = load_backbone(FLAGS.backbone)
        for name, seed, points in plan(FLAGS.configs, list(map(int, FLAGS.seeds)),
                                       list(map(int, FLAGS.images)),
                                       list(map(int, FLAGS.longer_images))):
            path = os.path.join(FLAGS.results_dir, f"{name}-seed{seed}-{points[-1]}.json")
            measure = {"data_dir": FLAGS.data_dir, "backbone": backbone.key,
                       "eval_samples": FLAGS.eval_samples, "batch_size": FLAGS.batch_size}
            if os.path.exists(path):
                check_same_measure(read_json(path), measure, path)
                continue
            earlier = earlier_result(FLAGS.results_dir, FLAGS.runs_dir, name, seed, points,
                                     FLAGS.batch_size)
            if earlier:
                check_same_measure(earlier, measure, os.path.join(FLAGS.runs_dir,
                                                                  f"{name}-seed{seed}"))
            save_json(path, run_one(name, seed, points, FLAGS.batch_size, FLAGS.data_dir,
                                    backbone, FLAGS.eval_samples, FLAGS.runs_dir, earlier))
            print(f"Wrote {path}", flush=True)
        if os.path.exists(reference_path):
            check_same_measure(read_json(reference_path), {"data_dir": FLAGS.data_dir},
                               reference_path)
        else:
            images, count = load_images(64, FLAGS.data_dir)
            real = np.concatenate([b.numpy() for b in images.take(FLAGS.eval_samples).batch(1000)])
            save_json(reference_path, {"pixel_std": pixel_std(real), "images": len(real),
                                       "data_dir": FLAGS.data_dir})
    results = [r for r in load_results(FLAGS.results_dir) if "config" in r]
    reference = read_json(reference_path)["pixel_std"] if os.path.exists(reference_path) else None
    print(table(results, reference))
    print(verdict(results, int(FLAGS.images[-1]), reference))
    if results:
        print("Plot:", plot(results, os.path.join(FLAGS.results_dir, "fd_by_images.png")))


def _main(argv):
    """``main`` with a refusal as one line and exit status 2."""
    set_up_log_handlers()
    try:
        main(argv)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except TrainingFault as fault:
        print(f"error: {fault}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as stop:  # or Terminated; train() saved the run and said so
        sys.exit(getattr(stop, "exit_status", 130))


if __name__ == "__main__":
    define_flags()
    app.run(_main)

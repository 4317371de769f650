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

import glob
import json
import os
import time

import keras
import numpy as np
from absl import app, flags
from matplotlib.figure import Figure

from anime_gan.measure import cpu_name
from anime_gan.config import DIFFAUGMENT_DEFAULTS, MODELS, N_CRITIC_DEFAULTS
from anime_gan.data.pipeline import load_images
from anime_gan.evaluation import compare, generated_features, load_backbone, real_features
from anime_gan.files import save_json
from anime_gan.sampling import load_generator, sample
from anime_gan.training import train

PROGRESS_FILE = "comparison_points.json"  # in the run folder, rewritten at each point
DIFFAUGMENT = "color,translation,cutout"
# name -> TrainConfig settings; every other setting is the model's default (EMA included).
CONFIGS = {f"{model}{'+da' if da else ''}": {"model": model, "diffaugment": DIFFAUGMENT if da else ""}
           for model in ("dcgan", "wgan", "wgan_clip", "sngan") for da in (False, True)}


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
    flags.DEFINE_integer("batch_size", 64, "Batch size (per discriminator update).", **define)
    flags.DEFINE_string("data_dir", None, "The real images.", **define)
    flags.DEFINE_string("backbone", None, "Feature network (a .keras file).", **define)
    flags.DEFINE_integer("eval_samples", 10_000, "Generated and real images compared.",
                         **define)
    flags.DEFINE_string("results_dir", "docs/comparison", "Where each run's JSON is kept.",
                        **define)
    flags.DEFINE_string("runs_dir", "runs/compare", "Where the runs are trained.", **define)
    flags.DEFINE_boolean("table_only", False, "Only print the table of the kept results.",
                         **define)


def pixel_std(images):
    """Variety: the standard deviation across images of each pixel (in [0, 1]), averaged."""
    return float(np.mean(np.std(np.asarray(images, np.float32) / 255.0, axis=0)))


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
        figures = compare(real, fake, kid_subset_size=min(1000, len(real), len(fake)))
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
        with open(progress) as f:
            candidates = [json.load(f)]
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


def default_config(model):
    """The configuration that is ``model``'s default (with DiffAugment or without)."""
    return f"{model}{'+da' if DIFFAUGMENT_DEFAULTS[model] else ''}"


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


def load_results(results_dir):
    results = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as f:
            results.append(json.load(f))
    return results


# A configuration keeps variety when its samples spread at least this much like the real
# faces; one that wins on FD without it has won by making fewer kinds of face.
MIN_RECALL = 0.1
MIN_PIXEL_STD_SHARE = 0.6  # of the real faces' pixel std


def finals_by_config(results):
    """(config, real images) -> the final point of each seed's run at that budget."""
    finals = {}
    for result in results:
        final = result["points"][-1]
        finals.setdefault((result["config"], final["real_images"]), []).append(final)
    return dict(sorted(finals.items()))


def mean_of(points, key):
    values = [p[key] for p in points if key in p]
    return float(np.mean(values)) if values else float("nan")


def keeps_variety(points, reference_std=None):
    """Whether a configuration's runs (their mean) keep the variety of the real faces:
    recall of at least MIN_RECALL and, when the real faces' pixel std is known, a pixel
    std of at least MIN_PIXEL_STD_SHARE of it."""
    if mean_of(points, "recall") < MIN_RECALL:
        return False
    return reference_std is None or (
        mean_of(points, "pixel_std") >= MIN_PIXEL_STD_SHARE * reference_std)


def table(results, reference_std=None):
    """Markdown rows: each configuration at its last budget, mean +- std over seeds, and
    whether it keeps variety."""
    # CPU minutes, not wall minutes: a shared machine stretches the wall clock of a run.
    lines = ["| config | seeds | real images | FD | KID x 1e3 | precision | recall | "
             "pixel std | CPU minutes | keeps variety |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (name, images), finals in finals_by_config(results).items():
        def stat(key, scale=1.0, digits=2):
            values = np.array([p[key] for p in finals if key in p]) * scale
            if not len(values):
                return "-"
            spread = f" +- {values.std():.{digits}f}" if len(values) > 1 else ""
            return f"{values.mean():.{digits}f}{spread}"
        variety = "yes" if keeps_variety(finals, reference_std) else "no"
        lines.append(f"| {name} | {len(finals)} | {images:,} | {stat('fid')} | "
                     f"{stat('kid_mean', 1e3, 1)} | {stat('precision')} | {stat('recall')} | "
                     f"{stat('pixel_std', digits=3)} | {stat('train_cpu_minutes', digits=1)} | "
                     f"{variety} |")
    if reference_std is not None:
        lines.append(f"| real faces | | | | | | | {reference_std:.3f} | | |")
    return "\n".join(lines)


def best_configs(results, images, reference_std=None):
    """model -> its best configuration at ``images`` real images: the lowest mean FD among
    its configurations that keep variety; None when none of them does (or none ran)."""
    best = {}
    for (name, budget), finals in finals_by_config(results).items():
        model = CONFIGS.get(name, {"model": name})["model"]
        best.setdefault(model, None)
        if budget != images or not keeps_variety(finals, reference_std):
            continue
        fd = mean_of(finals, "fid")
        if best[model] is None or fd < best[model][1]:
            best[model] = (name, fd)
    return {model: best[model] and best[model][0] for model in MODELS if model in best}


def verdict(results, images, reference_std=None):
    """Lines naming each model's best configuration at ``images`` real images."""
    lines = [f"Best configuration of each model at {images:,} real images (the lowest FD "
             f"among those that keep variety: recall >= {MIN_RECALL}"
             + (f", pixel std >= {MIN_PIXEL_STD_SHARE:.0%} of the real faces'"
                if reference_std is not None else "") + "):"]
    finals = finals_by_config(results)
    for model, name in best_configs(results, images, reference_std).items():
        if name is None:
            lines.append(f"  {model}: none keeps variety")
            continue
        points = finals[(name, images)]
        cpu = mean_of(points, "train_cpu_minutes")
        lines.append(f"  {model}: {name} (FD {mean_of(points, 'fid'):.2f}, CPU minutes "
                     f"{cpu:.1f})" if np.isfinite(cpu) else
                     f"  {model}: {name} (FD {mean_of(points, 'fid'):.2f})")
    return "\n".join(lines)


def fd_lines(results):
    """config -> (real images seen, mean FD over seeds, seeds, mean CPU minutes) for the
    plot; a run kept at several budgets counts once at each of its points.  CPU minutes are
    NaN at a point no run recorded them for."""
    by_point = {}  # config -> real images -> seed -> point
    for result in results:
        for point in result["points"]:
            by_point.setdefault(result["config"], {}).setdefault(point["real_images"], {})[
                result["seed"]] = point
    lines = {}
    for name, by_images in by_point.items():
        images = sorted(by_images)
        fd = [float(np.mean([p["fid"] for p in by_images[n].values()])) for n in images]
        cpu = [float(np.mean([p["train_cpu_minutes"] for p in by_images[n].values()
                              if "train_cpu_minutes" in p] or [np.nan])) for n in images]
        lines[name] = (images, fd, max(len(by_seed) for by_seed in by_images.values()), cpu)
    return lines


def plot(results, path):
    """FD against real images seen and against CPU minutes of training: a colour per
    model, dashed with DiffAugment."""
    figure = Figure(figsize=(12, 4.5))
    by_images, by_cpu = figure.subplots(1, 2, sharey=True)
    colours = {model: f"C{i}" for i, model in enumerate(MODELS)}
    for name, (images, fd, seeds, cpu) in sorted(fd_lines(results).items()):
        settings = CONFIGS.get(name, {"model": name, "diffaugment": ""})
        style = dict(marker="o", color=colours.get(settings["model"]),
                     linestyle="--" if settings["diffaugment"] else "-")
        by_images.plot(images, fd, label=f"{name} ({seeds} seed{'s' if seeds > 1 else ''})",
                       **style)
        by_cpu.plot(cpu, fd, **style)  # NaN points (no CPU minutes recorded) are left out
    by_images.set(xlabel="real images seen", ylabel="FD (RotNet features)", yscale="log",
                  title="FD against real images seen")
    by_cpu.set(xlabel="CPU minutes of training (2 cores: wall minutes x 2 at most)",
               title="FD against CPU minutes")
    for ax in (by_images, by_cpu):
        ax.grid(alpha=0.3)
    by_images.legend(fontsize=8)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def main(argv, flag_values=flags.FLAGS):
    FLAGS = flag_values
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    reference_path = os.path.join(FLAGS.results_dir, "reference.json")
    if not FLAGS.table_only:
        backbone = load_backbone(FLAGS.backbone)
        for name, seed, points in plan(FLAGS.configs, list(map(int, FLAGS.seeds)),
                                       list(map(int, FLAGS.images)),
                                       list(map(int, FLAGS.longer_images))):
            path = os.path.join(FLAGS.results_dir, f"{name}-seed{seed}-{points[-1]}.json")
            if os.path.exists(path):
                continue
            earlier = earlier_result(FLAGS.results_dir, FLAGS.runs_dir, name, seed, points,
                                     FLAGS.batch_size)
            save_json(path, run_one(name, seed, points, FLAGS.batch_size, FLAGS.data_dir,
                                    backbone, FLAGS.eval_samples, FLAGS.runs_dir, earlier))
            print(f"Wrote {path}", flush=True)
        if not os.path.exists(reference_path):
            images, count = load_images(64, FLAGS.data_dir)
            real = np.concatenate([b.numpy() for b in images.take(FLAGS.eval_samples).batch(1000)])
            save_json(reference_path, {"pixel_std": pixel_std(real), "images": len(real)})
    results = [r for r in load_results(FLAGS.results_dir) if "config" in r]
    reference = None
    if os.path.exists(reference_path):
        with open(reference_path) as f:
            reference = json.load(f)["pixel_std"]
    print(table(results, reference))
    print(verdict(results, int(FLAGS.images[-1]), reference))
    if results:
        print("Plot:", plot(results, os.path.join(FLAGS.results_dir, "fd_by_images.png")))


if __name__ == "__main__":
    define_flags()
    app.run(main)

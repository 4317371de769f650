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

import numpy as np
from absl import app, flags
from matplotlib.figure import Figure

from anime_gan.measure import cpu_name
from anime_gan.config import N_CRITIC_DEFAULTS
from anime_gan.data.pipeline import load_images
from anime_gan.evaluation import compare, generated_features, load_backbone, real_features
from anime_gan.files import save_json
from anime_gan.sampling import load_generator, sample
from anime_gan.training import train

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


def run_one(name, seed, points, batch_size, data_dir, backbone, eval_samples, runs_dir):
    """Trains configuration ``name`` with ``seed``, evaluating at each budget in ``points``."""
    settings = CONFIGS[name]
    out = os.path.join(runs_dir, f"{name}-seed{seed}")
    real = real_features(backbone, 64, eval_samples, data_dir, seed=0)
    results, trained_seconds, cpu_seconds, done_steps = [], 0.0, 0.0, 0
    for images in points:
        steps = steps_for(images, batch_size, settings["model"])
        started, cpu_started = time.perf_counter(), time.process_time()
        # One epoch per stretch between evaluation points; a rerun resumes the folder.
        train(output_dir=out, data_dir=data_dir, batch_size=batch_size, seed=seed,
              steps_per_epoch=max(1, steps - done_steps), epochs=len(results) + 1,
              checkpoint_every=0, live=False, **settings)
        trained_seconds += time.perf_counter() - started
        cpu_seconds += time.process_time() - cpu_started
        done_steps = steps
        generator = load_generator(out)
        fake = generated_features(generator, backbone, eval_samples, seed=1000)
        figures = compare(real, fake, kid_subset_size=min(1000, len(real), len(fake)))
        results.append({"real_images": steps * batch_size * N_CRITIC_DEFAULTS[settings["model"]],
                        "generator_steps": steps, "train_minutes": trained_seconds / 60,
                        "train_cpu_minutes": cpu_seconds / 60,
                        "pixel_std": pixel_std(sample(generator, eval_samples, seed=2000)),
                        **figures})
    return {"config": name, "settings": settings, "seed": seed, "batch_size": batch_size,
            "eval_samples": eval_samples, "backbone": backbone.key, "data_dir": data_dir,
            "cpu": cpu_name(), "cores": os.cpu_count(),
            "points": results}


def load_results(results_dir):
    results = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as f:
            results.append(json.load(f))
    return results


def table(results, reference_std=None):
    """Markdown rows: each configuration at its last budget, mean +- std over seeds."""
    lines = ["| config | seeds | real images | FD | KID x 1e3 | precision | recall | "
             "pixel std | train minutes | CPU minutes |", "|---|---|---|---|---|---|---|---|---|---|"]
    by_config = {}
    for result in results:
        by_config.setdefault(result["config"], []).append(result["points"][-1])
    for name, finals in sorted(by_config.items()):
        def stat(key, scale=1.0, digits=2):
            values = np.array([p[key] for p in finals if key in p]) * scale
            if not len(values):
                return "-"
            spread = f" +- {values.std():.{digits}f}" if len(values) > 1 else ""
            return f"{values.mean():.{digits}f}{spread}"
        lines.append(f"| {name} | {len(finals)} | {finals[0]['real_images']:,} | {stat('fid')} | "
                     f"{stat('kid_mean', 1e3, 1)} | {stat('precision')} | {stat('recall')} | "
                     f"{stat('pixel_std', digits=3)} | {stat('train_minutes', digits=1)} | "
                     f"{stat('train_cpu_minutes', digits=1)} |")
    if reference_std is not None:
        lines.append(f"| real faces | | | | | | | {reference_std:.3f} | | |")
    return "\n".join(lines)


def plot(results, path):
    """FD against real images seen, one line per configuration (mean over seeds)."""
    figure = Figure(figsize=(7, 4.5))
    ax = figure.subplots()
    by_config = {}
    for result in results:
        by_config.setdefault(result["config"], []).append(result["points"])
    for name, runs in sorted(by_config.items()):
        images = [p["real_images"] for p in runs[0]]
        fd = np.mean([[p["fid"] for p in points] for points in runs
                      if len(points) == len(images)], axis=0)
        ax.plot(images, fd, marker="o", label=f"{name} ({len(runs)} seeds)")
    ax.set(xlabel="real images seen", ylabel="FD (RotNet features)", yscale="log",
           title="Frechet distance against real images seen")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def main(argv, flag_values=flags.FLAGS):
    FLAGS = flag_values
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    reference_path = os.path.join(FLAGS.results_dir, "reference.json")
    if not FLAGS.table_only:
        backbone = load_backbone(FLAGS.backbone)
        points = sorted(int(n) for n in FLAGS.images)
        for name in FLAGS.configs:
            for seed in map(int, FLAGS.seeds):
                path = os.path.join(FLAGS.results_dir, f"{name}-seed{seed}-{points[-1]}.json")
                if os.path.exists(path):
                    continue
                save_json(path, run_one(name, seed, points, FLAGS.batch_size, FLAGS.data_dir,
                                        backbone, FLAGS.eval_samples, FLAGS.runs_dir))
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
    if results:
        print("Plot:", plot(results, os.path.join(FLAGS.results_dir, "fd_by_images.png")))


if __name__ == "__main__":
    define_flags()
    app.run(main)

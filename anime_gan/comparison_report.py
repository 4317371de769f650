"""The comparison's report, from its kept results: the table (mean and spread over seeds,
and whether each configuration keeps variety), each model's best configuration, and the
plot of FD against real images seen and CPU minutes."""

import glob
import os
import re
from collections import Counter

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from anime_gan.config import MODELS
from anime_gan.files import read_json


def pixel_std(images):
    """Variety: the standard deviation across images of each pixel (in [0, 1]), averaged."""
    return float(np.mean(np.std(np.asarray(images, np.float32) / 255.0, axis=0)))


def config_name(model, diffaugment):
    """A configuration's name: the model, with "+da" when it trains with DiffAugment."""
    return f"{model}+da" if diffaugment else model


def model_of(name):
    return name.split("+")[0]


def load_results(results_dir):
    return [read_json(path) for path in sorted(glob.glob(os.path.join(results_dir, "*.json")))]


# A configuration keeps variety when its samples spread at least this much like the real
# faces; one that wins on FD without it has won by making fewer kinds of face.
MIN_RECALL = 0.1
MIN_PIXEL_STD_SHARE = 0.6  # of the real faces' pixel std


def cpu_label(name):
    """A CPU's model name without trademarks, "Processor" or its clock: "Intel Xeon"."""
    name = re.sub(r"\((R|TM)\)|\b(Processor|CPU)\b|@.*", " ", name or "unknown")
    return " ".join(name.split())


def finals_by_config(results):
    """(config, real images) -> the final point of each seed's run at that budget, with
    the CPU it trained on under "cpu"."""
    finals = {}
    for result in results:
        final = {**result["points"][-1], "cpu": cpu_label(result.get("cpu"))}
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
    whether it keeps variety.  CPU minutes compare only between runs on the same CPU, so
    each row names its runs' CPUs."""
    # CPU minutes, not wall minutes: a shared machine stretches the wall clock of a run.
    lines = ["| config | seeds | real images | FD | KID x 1e3 | precision | recall | "
             "pixel std | CPU minutes | CPU | keeps variety |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
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
                     f"{cpus(finals)} | {variety} |")
    if reference_std is not None:
        lines.append(f"| real faces | | | | | | | {reference_std:.3f} | | | |")
    return "\n".join(lines)


def cpus(points):
    """The CPUs of ``points``, each with its count of runs when they differ: "AMD EPYC x1,
    Intel Xeon x2"."""
    counts = Counter(point["cpu"] for point in points)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{cpu} x{count}" for cpu, count in sorted(counts.items()))


def best_configs(results, images, reference_std=None):
    """model -> its best configuration at ``images`` real images: the lowest mean FD among
    its configurations that keep variety; None when none of them does (or none ran)."""
    best = {}
    for (name, budget), finals in finals_by_config(results).items():
        model = model_of(name)
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
        fd = [mean_of(by_images[n].values(), "fid") for n in images]
        cpu = [mean_of(by_images[n].values(), "train_cpu_minutes") for n in images]
        lines[name] = (images, fd, max(len(by_seed) for by_seed in by_images.values()), cpu)
    return lines


def plot(results, path):
    """FD against real images seen and against CPU minutes of training: a colour per
    model, dashed with DiffAugment."""
    figure = Figure(figsize=(12, 4.5))
    by_images, by_cpu = figure.subplots(1, 2, sharey=True)
    colours = {model: f"C{i}" for i, model in enumerate(MODELS)}
    for name, (images, fd, seeds, cpu) in sorted(fd_lines(results).items()):
        style = dict(marker="o", color=colours.get(model_of(name)),
                     linestyle="-" if name == model_of(name) else "--")
        by_images.plot(images, fd, label=f"{name} ({seeds} seed{'s' if seeds > 1 else ''})",
                       **style)
        by_cpu.plot(cpu, fd, **style)  # NaN points (no CPU minutes recorded) are left out
    by_images.set(xlabel="real images seen", ylabel="FD (RotNet features)", yscale="log",
                  title="FD against real images seen")
    by_images.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    by_cpu.set(xlabel="CPU minutes of training (2 cores: wall minutes x 2 at most)",
               title="FD against CPU minutes")
    for ax in (by_images, by_cpu):
        ax.grid(alpha=0.3)
    by_images.legend(fontsize=8)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path

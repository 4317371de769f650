"""What each ``--mode`` of the command line does, as Python calls a notebook can make too.

``run(config)`` dispatches on ``config.mode``: ``train``, ``export``, ``generate`` or
``evaluate``.  The library calls behind them live in ``training``, ``export``,
``sampling`` and ``evaluation``; this module adds the files a mode writes and
says where they went.
"""

import json
import logging
import os
import shlex

import keras
import tensorflow as tf
from PIL import Image

from anime_gan import export, files, notebook, sampling
from anime_gan.errors import ConfigError
from anime_gan.evaluation import evaluate_run
from anime_gan.evaluation.backbones import INCEPTION_WEIGHTS_FILE, keras_cache_dir
from anime_gan.files import atomic_path, save_image, user_path
from anime_gan.images import GRID_ROWS, image_grid, square_grid_rows
from anime_gan.progress import into_a_file
from anime_gan.run_folder import RunFolder, data_gone, saved_config
from anime_gan.run_folder.lock import run_lock
from anime_gan.stop_signals import sigterm_interrupts
from anime_gan.training import train

logger = logging.getLogger(__name__)

GENERATE_BATCH = 256  # images generated and written at a time
GRID_IMAGES = GRID_ROWS * GRID_ROWS


def samples_gif(run_dir, path, seconds_per_frame=0.5):
    """An animated GIF of a run's ``samples/epoch_*.png``, in epoch order; None (and no
    file) before the run's first epoch has ended."""
    frames = [Image.open(p).convert("RGB") for p in RunFolder(run_dir).sample_grids()]
    if not frames:
        return None
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(seconds_per_frame * 1000), loop=0)
    return path


def generate_run(run_dir, num_images, seed=0, interpolate=False, batch_size=GENERATE_BATCH):
    """``--mode=generate``: PNG files, a grid, and optionally interpolations and a GIF.

    Writes into ``RUN/generated/seed_S/``, batch by batch with a progress bar (the
    images take the memory of one batch; their latent vectors, 512 bytes an image, are
    drawn at once); returns that folder.  The grid shows the first 64 images.  An
    earlier call's files are removed first: the folder holds one call's output, even
    when this one is stopped.
    """
    sampling.check_arguments("generate_run", num_images=num_images, seed=seed,
                             batch_size=batch_size)
    run_dir = user_path(run_dir, "generate_run")
    folder = RunFolder(run_dir)
    with run_lock(run_dir, create=False), sigterm_interrupts():
        generator = sampling.load_generator(run_dir)
        latents = _latents(num_images, generator.input_shape[-1], seed)  # may refuse: first
        out = _emptied_of_earlier_output(run_dir, folder.generated(seed))
        progress = keras.utils.Progbar(num_images, unit_name="image",  # a line, into a file
                                       verbose=2 if into_a_file() else 1)
        first = []
        try:
            for start in range(0, num_images, batch_size):
                images = sampling.images_from_latents(generator,
                                                      latents[start:start + batch_size])
                for i, image in enumerate(images, start):
                    save_image(os.path.join(out, f"{i:05d}.png"), image)
                first.extend(images[:GRID_IMAGES - len(first)])
                progress.add(len(images))
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: say what is there
            logger.warning("Stopped: %s holds the first images of %d asked for, without "
                           "grid.png; the same %s writes them all again", out, num_images,
                           notebook.the_same_call("generate_run"))
            if not notebook.in_notebook():
                raise
            raise stop.with_traceback(None) from None  # said so: no trace through Keras
        save_image(os.path.join(out, "grid.png"), image_grid(first, square_grid_rows(len(first))))
        logger.info("Wrote %d images and grid.png to %s", num_images, out)
        if interpolate:
            save_image(os.path.join(out, "interpolation.png"),
                       sampling.interpolation_grid(generator, seed=seed))
            if samples_gif(run_dir, os.path.join(out, "samples.gif")):
                logger.info("Wrote interpolation.png and samples.gif to %s", out)
            else:
                logger.warning("Wrote interpolation.png to %s; no samples.gif: the run has no "
                               "sample grids yet (it stopped before its first epoch ended)", out)
    return out


def _emptied_of_earlier_output(run_dir, out):
    """``out``, made if needed and without an earlier call's files (its images, grid,
    interpolation and GIF, and the temporary files of a killed call): the folder then
    holds this call's output only, never images of an older generator beside it."""
    try:
        os.makedirs(out, exist_ok=True)
        files.remove_leftovers(out)
        stale = [name for name in os.listdir(out)
                 if (name.endswith(".png") and len(name) >= 9 and name[:-4].isdigit())
                 or name in ("grid.png", "interpolation.png", "samples.gif")]
        for name in stale:
            os.remove(os.path.join(out, name))
    except OSError as error:  # a read-only folder, another user's files
        raise ConfigError(f"--output_dir={run_dir}: cannot write the images in {out} "
                          f"({error.strerror or error})") from None
    if stale:
        logger.info("Removed %d file(s) of an earlier --mode=generate from %s", len(stale), out)
    return out


def _latents(num_images, latent_dim, seed):
    try:
        return sampling.seeded_latents(num_images, latent_dim, seed)
    except tf.errors.ResourceExhaustedError:
        raise ConfigError(f"--num_images={num_images}: too many for this machine's memory "
                          f"({num_images * latent_dim * 4 / 2**30:.0f} GiB of latent vectors "
                          "alone); ask for fewer") from None


def export_run(run_dir):
    """``--mode=export``: the run's newest generator as a SavedModel in ``RUN/export/``."""
    run_dir = user_path(run_dir, "export_run")
    folder = RunFolder(run_dir)
    with run_lock(run_dir, create=False), sigterm_interrupts():
        export.check_run_target(folder)
        try:
            path = export.export_generator(sampling.load_generator(run_dir), folder.export)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM
            logger.warning("Stopped: %s is as it was; the same %s writes it", folder.export,
                           notebook.the_same_call("export_run"))
            raise
    logger.info("Exported the generator to %s", path)
    return path


def evaluate(config):
    """``--mode=evaluate``: ``evaluate_run``, its report printed as JSON."""
    report = evaluate_run(config.output_dir, config.num_samples, config.data_dir,
                          config.dataset, config.backbone, config.backbone_weights,
                          config.seed, config.tfds_data_dir)
    print(json.dumps(report, indent=2))
    logger.info("Wrote %s", RunFolder(config.output_dir).eval_report)
    return report


def train_summary(config, prog="anime-gan", worker=None):
    """The lines that close a training run: what it wrote where, and what to run next.

    ``worker``: this process's name on a task of a multi-worker run that is not the
    chief (``devices.worker_name``), which only says where the run is."""
    if worker is not None:
        return [f"Done: {worker}'s share of the multi-worker run; the chief writes the run "
                f"to {config.output_dir} (this task's scratch copy: "
                f"{os.path.join(config.output_dir, 'workers', worker)})"]
    folder = RunFolder(config.output_dir)
    samples = folder.sample_grids()
    epochs = int(os.path.basename(samples[-1])[len("epoch_"):-len(".png")]) if samples else 0
    # The settings on record: a finished run given other ones kept its own, and a run
    # continued without its data flags trained on its own data.
    recorded = saved_config(config.output_dir) or config
    generator = folder.ema_generator if recorded.ema_decay else folder.generator
    run = shlex.quote(config.output_dir)
    lines = [f"Done: {epochs} epoch(s) of {config.model} in {config.output_dir}",
             f"  newest samples  {samples[-1] if samples else '(none)'}",
             f"  generator       {generator}, and as a SavedModel in {folder.export}",
             f"  curves          {os.path.join(config.output_dir, 'losses.png')}; "
             f"tensorboard --logdir {shlex.quote(folder.logs)}",
             "Next:",
             f"  {prog} --mode=generate --output_dir={run} --interpolate"]
    if recorded.data_dir or recorded.dataset:  # FID/KID against the run's own real images
        evaluate = f"  {prog} --mode=evaluate --output_dir={run}"
        if data_gone(recorded, config.output_dir) and config.data_dir and os.path.isdir(config.data_dir):
            evaluate += f" --data_dir={shlex.quote(config.data_dir)}"  # where it is now
        weights = os.path.join(keras_cache_dir(), INCEPTION_WEIGHTS_FILE)
        if recorded.backbone != "inception":  # the network its --eval_every KID used
            evaluate += f" --backbone={shlex.quote(recorded.backbone)}"
        elif not (recorded.backbone_weights or os.path.isfile(weights)):  # its own, or Keras's
            evaluate += (f"  (needs InceptionV3's ImageNet weights in {weights}, or "
                         "--backbone=PATH.keras: see the README's Measuring sample quality)")
        lines.append(evaluate)
    lines.append(f"  (the same command with --output_dir={run} and a higher --epochs trains "
                 "this run further)")
    return lines


def run(config):
    """Does what ``config.mode`` asks: train, export, generate or evaluate."""
    if config.mode == "train":
        return train(config)
    if config.mode == "export":
        return export_run(config.output_dir)
    if config.mode == "evaluate":
        return evaluate(config)
    return generate_run(config.output_dir, config.num_images, config.seed, config.interpolate)

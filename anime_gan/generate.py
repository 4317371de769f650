"""Use a trained run: load its generator, sample images, interpolate, show grids.

This is the notebook API::

    import anime_gan
    generator = anime_gan.load_generator("runs/my-run")
    images = anime_gan.sample(generator, 16, seed=1)     # uint8 [16, 64, 64, 3]
    anime_gan.show_grid(images)
"""

import glob
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from anime_gan import artifacts, export, networks
from anime_gan.config import ConfigError
from anime_gan.data import to_uint8
from anime_gan.train import read_run_config, run_paths

logger = logging.getLogger(__name__)


def load_generator(run_dir):
    """A run's newest generator (its EMA copy if it kept one): from its newest
    checkpoint, else from ``generator_ema.keras`` or ``generator.keras``."""
    paths = run_paths(run_dir)
    checkpoint = tf.train.latest_checkpoint(paths["checkpoints"])
    if checkpoint:
        config = read_run_config(run_dir)
        generator = networks.build_generator(config.latent_dim, config.image_size,
                                             upsampling=config.upsampling)
        key = "ema_generator" if config.ema_decay else "generator"
        tf.train.Checkpoint(**{key: generator}).read(checkpoint).expect_partial()
        logger.info("Loaded the %s from %s", key.replace("_", " "), checkpoint)
        return generator
    for name in ("ema_generator", "generator"):
        if os.path.isfile(paths[name]):
            # Safe mode: a file that would run code when loaded (a Lambda layer) is refused.
            return keras.models.load_model(paths[name], safe_mode=True)
    raise ConfigError(f"--output_dir={run_dir}: no run here (no checkpoints/ or generator.keras)")


def images_from_latents(generator, latents, batch_size=256):
    """uint8 images [N, H, W, 3] for float latents [N, latent_dim]."""
    return np.concatenate([
        keras.ops.convert_to_numpy(
            to_uint8(generator(latents[i:i + batch_size], training=False)))
        for i in range(0, len(latents), batch_size)
    ])


def sample(generator, num_images, seed=0):
    """``num_images`` uint8 images; the same seed gives the same images as the
    exported SavedModel's ``generate(num_images, seed)``."""
    latents = export.seeded_latents(num_images, generator.input_shape[-1], seed)
    return images_from_latents(generator, latents)


def slerp(a, b, t):
    """Spherical interpolation between latent vectors ``a`` and ``b`` at fractions ``t``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    t = np.asarray(t, np.float64)[:, None]
    if omega < 1e-6:  # (anti)parallel vectors: fall back to a straight line
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(
        np.float32)


def interpolation_grid(generator, rows=8, steps=8, seed=0):
    """A uint8 grid: each row walks by slerp from one random latent to another."""
    ends = np.random.default_rng(seed).standard_normal((rows, 2, generator.input_shape[-1]))
    t = np.linspace(0.0, 1.0, steps)
    latents = np.concatenate([slerp(a, b, t) for a, b in ends])
    return artifacts.image_grid(images_from_latents(generator, latents), rows=rows)


def show_grid(images, rows=None, title=None):
    """Shows uint8 images [N, H, W, 3] as one grid with matplotlib; returns the figure."""
    from matplotlib import pyplot as plt

    grid = artifacts.image_grid(images, rows=rows or artifacts.square_grid_rows(len(images)))
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 80, grid.shape[0] / 80))
    ax.imshow(grid)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


def samples_gif(run_dir, path, seconds_per_frame=0.5):
    """An animated GIF of a run's ``samples/epoch_*.png``, in epoch order."""
    from PIL import Image

    frames = [Image.open(p).convert("RGB")
              for p in sorted(glob.glob(os.path.join(run_dir, "samples", "epoch_*.png")))]
    if not frames:
        raise FileNotFoundError(f"{run_dir}: no samples/epoch_*.png to animate")
    with artifacts.atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(seconds_per_frame * 1000), loop=0)
    return path


def generate_run(run_dir, num_images, seed=0, interpolate=False):
    """``--mode=generate``: PNG files, a grid, and optionally interpolations and a GIF.

    Writes into ``RUN/generated/seed_S/``; returns that folder.
    """
    generator = load_generator(run_dir)
    out = os.path.join(run_dir, "generated", f"seed_{seed}")
    os.makedirs(out, exist_ok=True)
    images = sample(generator, num_images, seed)
    for i, image in enumerate(images):
        artifacts.save_image(os.path.join(out, f"{i:05d}.png"), image)
    artifacts.save_image(os.path.join(out, "grid.png"),
                         artifacts.image_grid(images, artifacts.square_grid_rows(num_images)))
    if interpolate:
        artifacts.save_image(os.path.join(out, "interpolation.png"),
                             interpolation_grid(generator, seed=seed))
        samples_gif(run_dir, os.path.join(out, "samples.gif"))
    logger.info("Wrote %d images to %s", num_images, out)
    return out


def export_run(run_dir):
    """``--mode=export``: the run's newest generator as a SavedModel in ``RUN/export/``."""
    path = export.export_generator(load_generator(run_dir), run_paths(run_dir)["export"])
    logger.info("Exported the generator to %s", path)
    return path

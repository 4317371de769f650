"""Use a trained generator: load it from a run, sample images, interpolate, show grids.

This is the notebook API::

    import anime_gan
    generator = anime_gan.load_generator("runs/my-run")
    images = anime_gan.sample(generator, 16, seed=1)     # uint8 [16, 64, 64, 3]
    anime_gan.show_grid(images)                          # displayed in Jupyter
    anime_gan.show_grid(anime_gan.interpolation_grid(generator))
"""

import logging
import os

import keras
import numpy as np
import tensorflow as tf

from anime_gan import devices, display, networks
from anime_gan.errors import (MAX_SEED, ArgumentTypeError, ConfigError, check_whole_numbers,
                              keras_load_problem)
from anime_gan.files import user_path
from anime_gan.images import GRID_ROWS, image_grid, to_uint8
from anime_gan.run_folder import RunFolder
from anime_gan.run_folder.checkpoints import read_newest, saved_objects
from anime_gan.run_folder.lock import describe, holder_of

logger = logging.getLogger(__name__)


def as_generator(model):
    """The generator to sample from: a GAN model (``train()``'s result) stands for its
    sampling generator, the EMA copy if it keeps one; anything else is returned as is."""
    return getattr(model, "sampling_generator", model)


_NO_GENERATOR = object()  # check_arguments without a generator to check


def check_arguments(caller, generator=_NO_GENERATOR, seed=0, **counts):
    """A wrong argument of the sampling helpers is a one-line error naming it.  Returns
    the generator to use (``as_generator``), None when there is none to check."""
    if generator is _NO_GENERATOR:
        generator = None
    elif not isinstance(generator := as_generator(generator), keras.Model):
        hint = (f": load_generator({generator!r}) gives a run's generator"
                if isinstance(generator, (str, os.PathLike)) else "")
        raise ArgumentTypeError(f"{caller} takes a generator (a Keras model), not "
                                f"{type(generator).__name__}{hint}")
    problem = generator is not None and not_a_generator(generator)
    if problem:
        raise ArgumentTypeError(f"{caller} takes a generator: {problem}")
    check_whole_numbers(caller, **counts)
    check_whole_numbers(caller, 0, MAX_SEED, seed=seed)
    return generator


def not_a_generator(model):
    """Why a Keras model is no generator (latents [N, latent_dim] to images [N, H, W, 3]),
    or None; a model whose shapes are not known yet passes."""
    try:
        inputs, outputs = model.input_shape, model.output_shape
    except (AttributeError, ValueError):
        return None
    if (isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(outputs, tuple)
            and len(outputs) == 4 and outputs[-1] == 3):
        return None
    scores_images = isinstance(inputs, tuple) and len(inputs) == 4
    return (f"{model.name} maps {inputs} to {outputs}, not latents [N, latent_dim] to "
            "images [N, H, W, 3]" + (" (it is a discriminator or critic)" if scores_images else ""))


def fixed_latents(latent_dim, seed, count=GRID_ROWS * GRID_ROWS):
    """The latent batch behind every sample grid of a run."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def seeded_latents(batch_size, latent_dim, seed):
    """Standard-normal latents fixed by ``seed`` (stateless), as the SavedModel's
    ``generate(batch_size, seed)`` draws them."""
    return tf.random.stateless_normal(
        [batch_size, latent_dim], seed=tf.stack([tf.cast(seed, tf.int32), 0])
    )


def load_generator(run_dir):
    """A run's newest generator (its EMA copy if it keeps one): from its newest checkpoint
    that reads back completely, else from ``generator_ema.keras`` or ``generator.keras``.
    A saved ``.keras`` network may be given instead of a run folder."""
    return load_generator_and_source(run_dir)[0]


def load_generator_and_source(run_dir):
    """``load_generator``, and where it came from: a checkpoint and the network read from
    it (``ckpt-9: ema_generator``), or a ``.keras`` file."""
    if not isinstance(run_dir, (str, os.PathLike)):
        raise ArgumentTypeError(f"load_generator takes a run folder or a .keras file, not "
                                f"{type(run_dir).__name__}" + (
                                    " (a Keras model is a generator already)"
                                    if isinstance(run_dir, keras.Model) else ""))
    run_dir = user_path(run_dir, "load_generator", "a run folder or a .keras file")
    if os.path.isfile(run_dir) and run_dir.endswith(".keras"):
        return _load_keras_file(run_dir), os.fspath(run_dir)
    folder = RunFolder(run_dir)
    config = None
    if folder.has_run():
        try:
            config = folder.read_config()
        except ConfigError as error:
            logger.warning("%s; using the saved .keras generator instead", error)
    if config is not None:
        # In the run's precision, as it trained and as its .keras files and export compute.
        with devices.precision(config.mixed_precision, warn=False):
            generator = networks.build_generator(config.latent_dim, config.image_size,
                                                 upsampling=config.upsampling)

        read_from = []

        def read(prefix):
            key = ("ema_generator" if config.ema_decay and "ema_generator" in saved_objects(prefix)
                   else "generator")
            reader = tf.train.Checkpoint(**{key: generator})
            reader.read(prefix).expect_partial().assert_existing_objects_matched()
            read_from.append(key)

        path, _ = read_newest(read, folder.checkpoints)
        if path:
            logger.info("Loaded the generator from %s", path)
            return generator, f"{path}: {read_from[-1]}"
    files = [folder.ema_generator, folder.generator]
    if config is not None and not config.ema_decay:  # an average left from before is stale
        files.reverse()
    problems = []
    for path in filter(os.path.isfile, files):
        try:
            generator = _load_keras_file(path)
        except ConfigError as error:
            problems.append(str(error))
            logger.warning("Skipped a generator file: %s", problems[-1])
            continue
        return generator, path
    raise ConfigError(f"--output_dir={run_dir}: {_why_no_generator(folder, config)} (no "
                      "readable checkpoint, generator_ema.keras or generator.keras)"
                      + "".join(f"; {problem}" for problem in problems))


def _why_no_generator(folder, config):
    if config is None:
        return "no run here"
    holder = holder_of(folder.path)
    if holder is not None and holder.get("pid") != os.getpid():
        return (f"no generator saved in the run yet; it is training in {describe(holder)} "
                "and saves one at its first checkpoint (--checkpoint_every steps) or epoch end")
    return "no generator saved in the run"


def _load_keras_file(path):
    try:
        # Safe mode: a file that would run code when loaded (a Lambda layer) is refused.
        generator = keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # a damaged file: Keras raises ValueError, zipfile...
        raise ConfigError(f"{path} does not load: " + keras_load_problem(path, error)) from None
    problem = not_a_generator(generator)
    if problem:
        raise ConfigError(f"{path} is no generator: {problem}")
    logger.info("Loaded the generator from %s", path)
    return generator


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
    generator = check_arguments("sample", generator, num_images=num_images, seed=seed)
    latents = seeded_latents(num_images, generator.input_shape[-1], seed)
    return images_from_latents(generator, latents)


def slerp(a, b, t):
    """Spherical interpolation between latent vectors ``a`` and ``b`` at fractions ``t``
    (a sequence gives one vector for each, a number one vector)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    fractions = np.asarray(t, np.float64)
    t = np.atleast_1d(fractions)[:, None]
    if np.sin(omega) < 1e-6:  # parallel or opposite vectors: no one great circle
        path = (1 - t) * a + t * b
    else:
        path = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    return path.astype(np.float32)[0 if fractions.ndim == 0 else slice(None)]


def interpolation_grid(generator, rows=8, steps=8, seed=0):
    """A uint8 grid: each row walks by slerp from one random latent to another."""
    generator = check_arguments("interpolation_grid", generator, rows=rows, seed=seed)
    check_whole_numbers("interpolation_grid", 2, steps=steps)  # both ends, at least
    ends = np.random.default_rng(seed).standard_normal((rows, 2, generator.input_shape[-1]))
    t = np.linspace(0.0, 1.0, steps)
    latents = np.concatenate([slerp(a, b, t) for a, b in ends])
    return image_grid(images_from_latents(generator, latents), rows=rows)


def show_grid(images, rows=None, title=None):
    """Shows images [N, H, W, 3] (or one image [H, W, 3], like an
    ``interpolation_grid``) as one grid in the notebook; returns the ``Figure``.

    uint8 images are shown as they are; float images (a generator's output, such as
    ``generator.predict(latents)``) are read on the networks' [-1, 1] scale.

    In Jupyter the grid is displayed once, whether or not the call is the cell's last
    line; the returned figure shows again only in a later cell.  In a script nothing is
    shown: save the figure (``show_grid(images).savefig("grid.png")``).  The figure is
    made without pyplot, so matplotlib's backend and pyplot's figures are left alone.
    See ``anime_gan.display``.
    """
    return display.show(display.grid_figure(images, rows, title))

"""Export the generator as a TensorFlow SavedModel that serves without this project.

Signatures:
- ``serving_default(latents)``: float32 [N, latent_dim] -> ``{"images": uint8 [N, H, W, 3]}``
- ``generate(batch_size, seed)``: int32 scalars -> ``{"images": uint8 [N, H, W, 3]}``, from
  standard-normal latents drawn with a stateless generator, so a seed always gives the same images.

Both refuse more than ``MAX_BATCH`` images a call (ask again for more), and latents of
another shape or not finite, with an ``InvalidArgumentError`` that says so, instead of
exhausting the server's memory, failing deep inside the network or serving black images.
"""

import os
import shutil

import keras
import tensorflow as tf

from anime_gan import stop_signals
from anime_gan.errors import ArtifactWriteError, ConfigError, tensorflow_message
from anime_gan.files import recover_directory, replace_directory, user_path
from anime_gan.images import to_uint8
from anime_gan.sampling import check_arguments, seeded_latents

MAX_BATCH = 1024  # images per call: about 0.3 GB of activations at 64x64


def is_export(directory):
    """True for a folder this function may replace: an earlier SavedModel, or empty."""
    return os.path.isdir(directory) and (
        os.path.isfile(os.path.join(directory, "saved_model.pb")) or not os.listdir(directory))


def written_after(directory, path):
    """Whether the export in ``directory`` was written after the file ``path`` (a run's
    checkpoint index): a finished run run again leaves such an export alone, since a
    process loading it in between would mix two exports' files."""
    try:
        return os.path.getmtime(os.path.join(directory, "saved_model.pb")) >= \
            os.path.getmtime(path)
    except OSError:
        return False


def check_target(directory, caller="export_generator",
                 advice="give a new folder or an earlier export (a run's is RUN/export)"):
    """Refuses a target that is something else (a run folder, a file): the swap below
    would delete it.  ``train`` asks before training, not after."""
    directory = os.path.normpath(os.fspath(directory))
    for path in (directory, directory + ".old"):
        if os.path.lexists(path) and not is_export(path):
            raise ConfigError(
                f"{caller}: {path} exists and is not a SavedModel export, so it is left as "
                f"it is; {advice}")


def check_run_target(folder):
    """Refuses a run whose ``RUN/export`` is something else, before any work is done."""
    check_target(folder.export, f"--output_dir={folder.path}",
                 "move it away: the run writes its generator's export there")


def export_generator(generator, directory):
    """Writes ``generator`` (or a GAN's sampling generator) as a SavedModel into
    ``directory``, replacing an earlier export there atomically.  Anything else already
    at ``directory`` is refused, never overwritten."""
    generator = check_arguments("export_generator", generator)
    directory = os.path.normpath(user_path(directory, "export_generator", "a folder"))
    check_target(directory)
    latent_dim = generator.input_shape[-1]

    def check_batch(batch_size):
        return [tf.debugging.assert_positive(batch_size, message="batch_size must be >= 1"),
                tf.debugging.assert_less_equal(
                    batch_size, MAX_BATCH,
                    message=f"batch_size must be at most {MAX_BATCH} images a call; "
                            "call again for more")]

    def images_from(latents):
        with tf.control_dependencies(check_batch(tf.shape(latents)[0])):
            return {"images": to_uint8(generator(latents, training=False))}

    def serve(latents):
        # TensorFlow does not check a signature's declared shape, and a check of the rank
        # would be folded away as the declared 2.  So: the shape padded with zeros must be
        # [N, latent_dim, 0, ...] (one latent [latent_dim] gives [latent_dim, 0, 0]).
        padded = tf.concat([tf.shape(latents), [0, 0, 0]], axis=0)
        message = f"latents must have shape [N, latent_dim] with latent_dim={latent_dim}"
        checks = [tf.debugging.assert_equal(padded[1], latent_dim, message=message),
                  tf.debugging.assert_equal(padded[2], 0, message=message)]
        with tf.control_dependencies(checks):
            latents = tf.debugging.check_numerics(  # else NaN would serve as black images
                tf.reshape(latents, [-1, latent_dim]),
                "latents must be finite numbers, not NaN or infinity")
            return images_from(latents)

    def generate(batch_size, seed):
        # The same seeds as anime_gan.sample(), which refuses a negative one.
        seed_check = tf.debugging.assert_non_negative(seed, message="seed must be >= 0")
        with tf.control_dependencies([*check_batch(batch_size), seed_check]):
            return images_from(seeded_latents(batch_size, latent_dim, seed))

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None, None], tf.float32, name="latents")],
    )
    archive.add_endpoint(
        "generate",
        generate,
        input_signature=[tf.TensorSpec([], tf.int32, name="batch_size"),
                         tf.TensorSpec([], tf.int32, name="seed")],
    )
    tmp, old = directory + ".tmp", directory + ".old"
    recover_directory(directory)  # left by an export that was stopped
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        archive.write_out(tmp, verbose=False)
        with stop_signals.held():
            replace_directory(tmp, directory)
    except (OSError, tf.errors.OpError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        recover_directory(directory)
        raise ArtifactWriteError(f"could not write the export {directory}: "
                                 f"{tensorflow_message(error)}; "
                                 "the earlier export is intact") from error
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while writing: the earlier one stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory

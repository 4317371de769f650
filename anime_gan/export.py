"""Export the generator as a TensorFlow SavedModel that serves without this project.

Signatures:
- ``serving_default(latents)``: float32 [N, latent_dim] -> ``{"images": uint8 [N, H, W, 3]}``
- ``generate(batch_size, seed)``: int32 scalars -> ``{"images": uint8 [N, H, W, 3]}``, from
  standard-normal latents drawn with a stateless generator, so a seed always gives the same images.
"""

import os
import shutil

import keras
import tensorflow as tf

from anime_gan.errors import ArtifactWriteError
from anime_gan.images import to_uint8
from anime_gan.sampling import seeded_latents


def export_generator(generator, directory):
    """Writes ``generator`` as a SavedModel into ``directory``, replacing it atomically."""
    latent_dim = generator.input_shape[-1]

    def images_from(latents):
        return {"images": to_uint8(generator(latents, training=False))}

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(
        "serving_default",
        images_from,
        input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="latents")],
    )
    archive.add_endpoint(
        "generate",
        lambda batch_size, seed: images_from(seeded_latents(batch_size, latent_dim, seed)),
        input_signature=[tf.TensorSpec([], tf.int32, name="batch_size"),
                         tf.TensorSpec([], tf.int32, name="seed")],
    )
    directory = os.path.normpath(directory)
    tmp, old = directory + ".tmp", directory + ".old"
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        archive.write_out(tmp, verbose=False)
        # Swap directories: at every moment either the old or the new export is complete.
        if os.path.exists(directory):
            os.rename(directory, old)
        os.rename(tmp, directory)
    except (OSError, tf.errors.OpError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(old) and not os.path.exists(directory):
            os.rename(old, directory)
        raise ArtifactWriteError(f"could not write the export {directory}: {error}; "
                                 "the earlier export is intact") from error
    shutil.rmtree(old, ignore_errors=True)
    return directory

"""Backbone features of real and generated images; the real ones are computed once and cached.

Real-image features are cached next to the data (``DATA_DIR/.anime_gan_cache``),
keyed by the data set's contents (for TensorFlow Datasets, where and how it is
prepared), the image size, the backbone, the number of
samples and the seed.
"""

import hashlib
import json
import logging
import os

import numpy as np
import tensorflow_datasets as tfds

from anime_gan.data import pipeline
from anime_gan.data.file_cache import listing_digest
from anime_gan.data.image_files import DEFAULT_MAX_PIXELS, scan_folder
from anime_gan.data.kaggle import local_data_dir
from anime_gan.errors import ArtifactWriteError
from anime_gan.evaluation.backbones import keras_cache_dir
from anime_gan.files import atomic_path
from anime_gan.sampling import sample

logger = logging.getLogger(__name__)

CACHE_FOLDER = ".anime_gan_cache"


def _images(dataset, count):
    """The first ``count`` uint8 images of a data set, as one array."""
    return np.concatenate([b.numpy() for b in dataset.take(count).batch(1000)])


def _tfds_identity(dataset, tfds_data_dir):
    """Where a TFDS data set is prepared, and what its prepared info says (version, split
    sizes): a data set prepared again, or elsewhere, is another data set."""
    try:
        builder = tfds.builder(dataset.removeprefix("tfds:"), data_dir=tfds_data_dir)
        return {"data_dir": os.path.abspath(builder.data_dir),
                "info": builder.info.as_json if builder.is_prepared() else None}
    except Exception:  # an unknown or broken data set: loading it reports why
        return None


def _data_key(paths, data_dir, dataset, image_size, backbone, num_samples, seed,
              tfds_data_dir=None):
    identity = {"image_size": image_size, "backbone": backbone.key,
                "num_samples": num_samples, "seed": seed}
    if data_dir:
        identity["files"] = listing_digest(paths, data_dir)
    else:
        identity["dataset"] = dataset or "built-in"
        if dataset:
            identity["tfds"] = _tfds_identity(dataset, tfds_data_dir)
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def _seeded_choice(paths, num_samples, seed):
    """The files to decode, in their order: ``num_samples`` of them chosen by ``seed``, and
    a tenth more for those that do not decode (all of them if that is most): not the
    whole data set twice in memory beside training's."""
    wanted = num_samples + num_samples // 10 + 10
    if wanted >= len(paths):
        return paths
    chosen = np.random.default_rng(seed).choice(len(paths), wanted, replace=False)
    return [paths[i] for i in sorted(chosen)]


def _cache_dir(data_dir):
    return os.path.join(data_dir, CACHE_FOLDER) if data_dir else os.path.normpath(
        os.path.join(keras_cache_dir(), "..", "anime_gan"))


def real_features(backbone, image_size, num_samples, data_dir=None, dataset=None, seed=0,
                  tfds_data_dir=None, max_image_pixels=DEFAULT_MAX_PIXELS, say_skipped=True,
                  cache_dir=None):
    """Backbone features of ``num_samples`` real images (fewer if the data set is smaller),
    computed once and cached next to the data, or in ``cache_dir`` (a run's --cache_dir:
    the data folder may be shared or read-only).  A folder's files are the ones training
    would use (those declaring more than ``max_image_pixels`` pixels skipped; the skipped
    ones said unless ``say_skipped`` is false: training said them already)."""
    data_dir = local_data_dir(data_dir)  # kaggle:HANDLE -> kagglehub's folder
    # Scanned once, used twice.
    paths = scan_folder(data_dir, max_image_pixels, say_skipped).usable if data_dir else None
    key = _data_key(paths, data_dir, dataset, image_size, backbone, num_samples, seed,
                    tfds_data_dir)
    path = os.path.join(cache_dir or _cache_dir(data_dir), f"real_features-{key}.npy")
    if os.path.isfile(path):
        logger.info("Real-image features from the cache %s", path)
        return np.load(path)
    logger.info("Measuring the features of up to %d real images to compare with (once: "
                "then kept in %s)", num_samples, path)
    if data_dir:
        chosen = _seeded_choice(paths, num_samples, seed)
        images, count = pipeline.decoded_images(chosen, image_size, data_dir)
        if count < num_samples and len(chosen) < len(paths):  # many did not decode: all
            images, count = pipeline.decoded_images(paths, image_size, data_dir)
    else:
        if not dataset:
            logger.info("Real images: the %d built-in cartoon faces, the data of a run given "
                        "none (--data_dir=PATH compares with other images)",
                        pipeline.SYNTHETIC_IMAGES)
        images, count = pipeline.load_images(image_size, data_dir, dataset, seed,
                                             tfds_data_dir=tfds_data_dir)
    shuffled = images.shuffle(count, seed=seed, reshuffle_each_iteration=False)
    features = backbone.features(_images(shuffled, min(num_samples, count)))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, features)
    except (OSError, ArtifactWriteError) as error:  # read-only data: evaluate anyway, uncached
        logger.warning("Could not cache the real-image features in %s: %s", path, error)
    return features


def warn_of_fewer_real_images(count, asked, flag, data_dir=None, dataset=None):
    """The one warning when the data has fewer usable images than ``flag=asked`` asks
    for: all of them are then compared."""
    if count < asked:
        logger.warning("%s=%d: %d usable real images in %s; all %d are compared", flag,
                       asked, count, data_dir or dataset or "the built-in faces", count)


def generated_features(generator, backbone, num_samples, seed=0, batch_size=250):
    return np.concatenate([
        backbone.features(sample(generator, min(batch_size, num_samples - start), seed + start))
        for start in range(0, num_samples, batch_size)])

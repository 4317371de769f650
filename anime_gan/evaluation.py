"""Evaluating a generator against real images: features from a backbone, then FID/KID/PR.

Backbones:
- ``inception`` (default): ``keras.applications.InceptionV3`` with ImageNet weights, pooled
  2048-d features of images resized to 299x299 with antialiasing.  The weights come from the
  Keras cache or ``backbone_weights``; nothing is downloaded.
- any Keras model file (``PATH.keras``): images in [-1, 1], resized to the model's input
  size if it has one; the features are its output.

Real-image features are cached next to the data, keyed by the data set's contents, the
image size, the backbone and the number of samples.
"""

import hashlib
import json
import logging
import os
import time

import keras
import numpy as np
import tensorflow as tf

from anime_gan import data, metrics
from anime_gan.artifacts import atomic_path
from anime_gan.config import ConfigError
from anime_gan.generate import load_generator, sample
from anime_gan.image_files import listing_digest, scan_folder
from anime_gan.train import read_run_config

logger = logging.getLogger(__name__)

INCEPTION_SIZE = 299
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
CACHE_FOLDER = ".anime_gan_cache"


def keras_cache_dir():
    return os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "models")


class Backbone:
    """A feature network and how images reach it: uint8 [N, H, W, 3] -> features [N, d]."""

    def __init__(self, model, input_size, key):
        self.model = model
        self.input_size = input_size
        self.key = key  # identifies the network and its weights in cache keys

    def features(self, images, batch_size=100):
        out = []
        for start in range(0, len(images), batch_size):
            batch = tf.convert_to_tensor(images[start:start + batch_size])
            if self.input_size and batch.shape[1:3] != (self.input_size, self.input_size):
                batch = tf.image.resize(batch, (self.input_size, self.input_size),
                                        antialias=True)
            out.append(np.asarray(self.model(data.to_float(batch), training=False)))
        return np.concatenate(out).reshape(len(images), -1)


def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def inception_backbone(backbone_weights=None, weights="imagenet"):
    """InceptionV3 pool features; ``weights=None`` gives random weights (for tests)."""
    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                           input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    if weights is None:
        return Backbone(model, INCEPTION_SIZE, "inception-random")
    path = backbone_weights or os.path.join(keras_cache_dir(), INCEPTION_WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise ConfigError(
            f"--backbone_weights={backbone_weights}: the InceptionV3 ImageNet weights are not "
            f"at {path}. On a machine with internet, run python -c \"import keras; "
            "keras.applications.InceptionV3(include_top=False, weights='imagenet')\" and copy "
            f"{os.path.join('~/.keras/models', INCEPTION_WEIGHTS_FILE)} here, or pass "
            "--backbone_weights=PATH; or evaluate with another network, --backbone=PATH.keras")
    model.load_weights(path)
    return Backbone(model, INCEPTION_SIZE, f"inception-{_file_digest(path)}")


def keras_file_backbone(path):
    """Features from the output of any Keras model file (loaded in safe mode)."""
    if not os.path.isfile(path):
        raise ConfigError(f"--backbone={path}: no such file")
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    size = model.input_shape[1]
    return Backbone(model, size, f"{os.path.basename(path)}-{_file_digest(path)}")


def load_backbone(backbone="inception", backbone_weights=None):
    if backbone == "inception":
        return inception_backbone(backbone_weights)
    return keras_file_backbone(backbone)


def _images(dataset, count):
    """The first ``count`` uint8 images of a data set, as one array."""
    return np.concatenate([b.numpy() for b in dataset.take(count).batch(1000)])


def _data_key(paths, data_dir, dataset, image_size, backbone, num_samples, seed):
    identity = {"image_size": image_size, "backbone": backbone.key,
                "num_samples": num_samples, "seed": seed}
    if data_dir:
        identity["files"] = listing_digest(paths, data_dir)
    else:
        identity["dataset"] = dataset or "built-in"
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def _cache_dir(data_dir):
    return os.path.join(data_dir, CACHE_FOLDER) if data_dir else os.path.join(
        keras_cache_dir(), "..", "anime_gan")


def real_features(backbone, image_size, num_samples, data_dir=None, dataset=None, seed=0):
    """Backbone features of ``num_samples`` real images (fewer if the data set is smaller),
    computed once and cached next to the data."""
    paths = scan_folder(data_dir).usable if data_dir else None  # scanned once, used twice
    key = _data_key(paths, data_dir, dataset, image_size, backbone, num_samples, seed)
    path = os.path.join(_cache_dir(data_dir), f"real_features-{key}.npy")
    if os.path.isfile(path):
        logger.info("Real-image features from the cache %s", path)
        return np.load(path)
    if data_dir:
        images, count = data.decoded_images(paths, image_size, data_dir)
    else:
        images, count = data.load_images(image_size, data_dir, dataset, seed)
    shuffled = images.shuffle(count, seed=seed, reshuffle_each_iteration=False)
    features = backbone.features(_images(shuffled, min(num_samples, count)))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, features)
    except OSError as error:  # a read-only data folder: evaluate anyway, uncached
        logger.warning("Could not cache the real-image features in %s: %s", path, error)
    return features


def generated_features(generator, backbone, num_samples, seed=0, batch_size=250):
    return np.concatenate([
        backbone.features(sample(generator, min(batch_size, num_samples - start), seed + start))
        for start in range(0, num_samples, batch_size)])


def compare(real, fake, kid_subsets=100, kid_subset_size=1000, k=3):
    """FID, KID (mean, std) and precision/recall between two feature sets."""
    fid = metrics.frechet_distance(*metrics.feature_statistics(real),
                                   *metrics.feature_statistics(fake))
    kid_mean, kid_std = metrics.kernel_inception_distance(real, fake, kid_subsets,
                                                          kid_subset_size)
    precision, recall = metrics.precision_recall(real, fake, k=k)
    return {"fid": fid, "kid_mean": kid_mean, "kid_std": kid_std,
            "precision": precision, "recall": recall}


def evaluate_run(run_dir, num_samples=10_000, data_dir=None, dataset=None,
                 backbone="inception", backbone_weights=None, seed=0):
    """``--mode=evaluate``: compares a run's newest generator with real images.

    Writes ``RUN/eval.json`` with the results and every setting that produced them.
    Without ``data_dir`` or ``dataset`` it uses the run's own training data.
    """
    started = time.perf_counter()
    config = read_run_config(run_dir)
    if not data_dir and not dataset:
        data_dir, dataset = config.data_dir, config.dataset
    network = load_backbone(backbone, backbone_weights)
    real = real_features(network, config.image_size, num_samples, data_dir, dataset, seed)
    fake = generated_features(load_generator(run_dir), network, num_samples, seed)
    results = compare(real, fake, kid_subset_size=min(1000, len(real), len(fake)))
    report = {
        **results,
        "settings": {"run": os.path.abspath(run_dir), "data_dir": data_dir, "dataset": dataset,
                     "real_images": len(real), "generated_images": len(fake),
                     "image_size": config.image_size, "backbone": backbone,
                     "backbone_key": network.key, "backbone_weights": backbone_weights,
                     "seed": seed, "kid_subsets": 100,
                     "kid_subset_size": min(1000, len(real), len(fake)), "pr_k": 3},
        "seconds": round(time.perf_counter() - started, 1),
    }
    path = os.path.join(run_dir, "eval.json")
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    return report


class KIDMonitor(keras.callbacks.Callback):
    """Every ``every`` epochs, adds ``kid`` (x 1e3 is usual for reading) to the epoch's logs.

    It uses ``num_samples`` generated and real images, so it is a cheap trend, not a
    figure to publish.  Place it before the callbacks that write the logs.
    """

    def __init__(self, backbone, real, every, num_samples, seed=0):
        super().__init__()
        self.backbone, self.real = backbone, real
        self.every, self.num_samples, self.seed = every, num_samples, seed

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        fake = generated_features(self.model.sampling_generator, self.backbone, self.num_samples,
                                  self.seed)
        size = min(1000, len(self.real), len(fake))
        logs["kid"], _ = metrics.kernel_inception_distance(self.real, fake, 20, size)

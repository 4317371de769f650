"""Feature networks for comparing generated and real images.

- ``inception`` (default): ``keras.applications.InceptionV3`` with ImageNet weights, pooled
  2048-d features of images resized to 299x299 with antialiasing.  The weights come from the
  Keras cache or ``backbone_weights``; nothing is downloaded.
- any Keras model file (``PATH.keras``): images in [-1, 1], resized to the model's input
  size if it has one; the features are its output.
"""

import hashlib
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from anime_gan.errors import ConfigError, first_line, keras_load_problem
from anime_gan.images import to_float

INCEPTION_SIZE = 299
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


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
            out.append(np.asarray(self.model(to_float(batch), training=False)))
        return np.concatenate(out).reshape(len(images), -1)


def file_digest(path):
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
    flag = f"--backbone_weights={backbone_weights}" if backbone_weights else "--backbone_weights"
    if not os.path.isfile(path):
        raise ConfigError(
            f"{flag}: the InceptionV3 ImageNet weights are not "
            f"at {path}. On a machine with internet, run python -c \"import keras; "
            "keras.applications.InceptionV3(include_top=False, weights='imagenet')\" and copy "
            f"{os.path.join('~/.keras/models', INCEPTION_WEIGHTS_FILE)} here, or pass "
            "--backbone_weights=PATH; or evaluate with another network, --backbone=PATH.keras")
    try:
        with warnings.catch_warnings():  # a wrong file: one warning per layer it skips
            warnings.simplefilter("ignore")
            model.load_weights(path)
    except Exception as error:  # h5py's OSError, Keras's ValueError for other networks
        raise ConfigError(f"{flag}: {path} is not InceptionV3's no-top ImageNet weights "
                          f"({INCEPTION_WEIGHTS_FILE}): {first_line(error)}") from None
    return Backbone(model, INCEPTION_SIZE, f"inception-{file_digest(path)}")


def keras_file_backbone(path):
    """Features from the output of any Keras model file (loaded in safe mode): it must
    take RGB images [N, H, W, 3] and give one output of [N, d] features."""
    if not os.path.isfile(path):
        raise ConfigError(f"--backbone={path}: no such file")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # not a Keras file, or a layer that cannot load
        raise ConfigError(f"--backbone={path}: cannot be loaded as a Keras model: "
                          f"{keras_load_problem(path, error)}") from None
    inputs, outputs = model.inputs or [], model.outputs or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[-1] != 3:
        raise ConfigError(f"--backbone={path}: must take RGB images [N, H, W, 3]; its input "
                          f"is {[tuple(i.shape) for i in inputs]}")
    if len(outputs) != 1 or len(outputs[0].shape) != 2:
        raise ConfigError(f"--backbone={path}: must give one output of features [N, d]; its "
                          f"output is {[tuple(o.shape) for o in outputs]} (pool or flatten "
                          "a feature map into a vector)")
    size = model.input_shape[1]
    return Backbone(model, size, f"{os.path.basename(path)}-{file_digest(path)}")


def load_backbone(backbone="inception", backbone_weights=None):
    """The feature network: "inception" (with its weights file), or a Keras file's path
    (``~`` expanded)."""
    if backbone == "inception":
        return inception_backbone(backbone_weights and os.path.expanduser(backbone_weights))
    return keras_file_backbone(os.path.expanduser(backbone))

"""One training step on one device and on 2 logical CPU devices with MirroredStrategy.

Run as a script (the logical devices must be set up before TensorFlow starts);
prints JSON: for each network, the largest weight change of the single-device
step and the largest difference between the two runs' updated weights, and
both runs' logged metrics, and how often the bfloat16 weight gradients by patches were
built.  Usage: python distributed_step.py dcgan|wgan|wgan_clip|sngan [float32|bfloat16]
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from anime_gan import TrainConfig, build_gan, fused_batch_norm  # noqa: E402
from patch_uses import record_patch_uses  # noqa: E402

# On one device batch norm trains with TensorFlow's fused kernel, under the mirrored
# strategy with Keras's synchronized layer. Their match is tested on its own
# (test_fused_batch_norm.py); here both runs use Keras's layer, so that only the
# distribution differs.
fused_batch_norm.BatchNormalization = keras.layers.BatchNormalization

GLOBAL_BATCH = 8
PATCHES_BUILT = record_patch_uses()  # (which, input shape) of each use

def one_step(model, strategy, initial_weights=None, precision="float32"):
    # Without DiffAugment: it draws its transformations per replica (see the README).
    config = TrainConfig(model=model, batch_size=GLOBAL_BATCH, n_critic=1, latent_dim=16,
                         diffaugment="", mixed_precision=precision, output_dir="unused")
    keras.utils.set_random_seed(0)
    gan = build_gan(config, strategy)
    if initial_weights is not None:
        gan.generator.set_weights(initial_weights[0])
        gan.discriminator.set_weights(initial_weights[1])
    before = (gan.generator.get_weights(), gan.discriminator.get_weights())
    real = np.random.default_rng(0).uniform(-1, 1, (GLOBAL_BATCH, 64, 64, 3)).astype("float32")
    history = gan.fit(tf.data.Dataset.from_tensors(real).repeat(), epochs=1, steps_per_epoch=1,
                      verbose=0, shuffle=False).history
    return gan, before, {name: float(values[-1]) for name, values in history.items()}


def max_abs_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def main(model, precision="float32"):
    single, initial, single_logs = one_step(model, tf.distribute.get_strategy(),
                                            precision=precision)
    PATCHES_BUILT.clear()
    mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored, _, mirrored_logs = one_step(model, mirrored_strategy, initial, precision)
    report = {"replicas": mirrored_strategy.num_replicas_in_sync,
              "single_logs": single_logs, "mirrored_logs": mirrored_logs,
              "mirrored_patches_built": PATCHES_BUILT}
    for index, network in enumerate(("generator", "discriminator")):
        after_single = getattr(single, network).get_weights()
        after_mirrored = getattr(mirrored, network).get_weights()
        report[network] = {
            "largest_update": max_abs_difference(after_single, initial[index]),
            "largest_difference": max_abs_difference(after_single, after_mirrored),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])

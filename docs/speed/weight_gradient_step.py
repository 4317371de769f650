"""Does the whole training step gain from ``anime_gan.patches_conv`` (the convolutions next
to the 4x4 bottleneck trained as matrix products of patches, and in float32 the image
pass: ``image_pass_step.py`` times that alone)?
(``bottleneck_conv_forms.py`` times one such layer alone.)  Builds a model with its
defaults twice from one seed, once with Keras's own convolutions, and prints the median
step of each (for the critics: the n_critic updates and the generator's), timed
interleaved (``anime_gan.measure.median_times``), --repeats times.

    python docs/speed/weight_gradient_step.py --model=dcgan --precision=bfloat16 --rounds=15
"""

import argparse

import keras
import tensorflow as tf

from anime_gan import patches_conv
from anime_gan.config import TrainConfig
from anime_gan.measure import median_times
from anime_gan.gan_builder import build_gan


class _KerasConv2D(keras.layers.Conv2D):
    """Keras's convolution, taking the ``training`` a network built with ours passes."""

    def call(self, inputs, training=None):
        return super().call(inputs)


class _KerasConv2DTranspose(keras.layers.Conv2DTranspose):
    """Keras's transposed convolution, taking the ``training`` passed to ours."""

    def call(self, inputs, training=None):
        return super().call(inputs)


KERAS_CLASSES = {patches_conv.Conv2D: _KerasConv2D,
                 patches_conv.Conv2DTranspose: _KerasConv2DTranspose}


def with_keras_layers(gan, keras_classes):
    """``gan`` with each layer of a class in ``keras_classes`` turned into Keras's own."""
    for network in (gan.generator, gan.discriminator):
        for layer in network.layers:  # (a wrapped convolution has a bias: never patches)
            layer.__class__ = keras_classes.get(type(layer), type(layer))
    return gan


def synced_step(gan, batch_size=64, image_size=64):
    """``gan``'s ``train_step`` on one random step's real images, as a call that returns
    when all of the step's work is done."""
    per_step = gan.real_batches_per_step  # a critic's step takes n_critic real batches
    real = tf.random.uniform((batch_size,) + (per_step,) * (per_step > 1)
                             + (image_size, image_size, 3), -1, 1)

    @tf.function
    def step():
        return tf.add_n([tf.reduce_sum(tf.cast(v, tf.float32))
                         for v in tf.nest.flatten(gan.train_step(real))])

    return lambda: float(step())


def compare_steps(description, to_keras, ours_name, default_model, keras_name="Keras's layers"):
    """Times the step of a model built with ours against the same model turned into
    Keras's own by ``to_keras`` (a function of the GAN), interleaved."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default=default_model)
    parser.add_argument("--precision", default="bfloat16")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = TrainConfig(model=args.model, batch_size=64, mixed_precision=args.precision,
                         output_dir="unused")
    steps = {}
    for name, change in ((keras_name, to_keras), (ours_name, lambda gan: gan)):
        keras.utils.set_random_seed(0)
        steps[name] = synced_step(change(build_gan(config)))
    for repeat in range(1, args.repeats + 1):
        times = median_times(steps, args.rounds)
        keras_step, ours = times.values()
        print(f"repeat {repeat}, {args.model} {args.precision}, median of {args.rounds} "
              f"interleaved steps: {keras_name} {1000 * keras_step:.0f} ms, {ours_name} "
              f"{1000 * ours:.0f} ms ({100 * (keras_step / ours - 1):+.1f}% speed)", flush=True)


if __name__ == "__main__":
    compare_steps(__doc__.split("\n\n")[0], lambda gan: with_keras_layers(gan, KERAS_CLASSES),
                  "patches (bottleneck and image)", default_model="dcgan")

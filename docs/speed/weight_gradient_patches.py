"""The weight gradient of a 4x4, stride-2 convolution from 8x8x256 to 4x4x512 (the
discriminator's `down4`; the generator's `up1` has the same one), two ways: TensorFlow's
Conv2DBackpropFilter, and patches times a matrix product (``anime_gan.patches_conv``).
Prints the median of 15 interleaved calls (``anime_gan.measure.median_times``) in
float32 and bfloat16, for each of --rounds rounds, and the largest difference.

    python docs/speed/weight_gradient_patches.py --rounds=3
"""

import argparse

import numpy as np
import tensorflow as tf

from anime_gan.measure import median_times
from anime_gan.patches_conv import weight_gradient_by_patches


def tensorflow_weight_gradient(x, dy):
    return tf.compat.v1.nn.conv2d_backprop_filter(x, [4, 4, 256, 512], dy, [1, 2, 2, 1], "SAME")


def patches_weight_gradient(x, dy):
    return weight_gradient_by_patches(x, dy, (4, 4, 256, 512))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 8, 256)).astype("float32")
    dy = rng.standard_normal((64, 4, 4, 512)).astype("float32")
    for round_ in range(1, rounds + 1):
        for dtype in ("float32", "bfloat16"):
            args = tf.cast(x, dtype), tf.cast(dy, dtype)
            ways = {"tensorflow": tf.function(tensorflow_weight_gradient),
                    "patches": tf.function(patches_weight_gradient)}
            seconds = median_times({name: lambda way=way: way(*args).numpy()
                                    for name, way in ways.items()}, rounds=15)
            ours, patches = (1000 * seconds[name] for name in ways)
            expected, got = (ways[name](*args).numpy().astype("float32") for name in ways)
            error = np.abs(got - expected).max() / np.abs(expected).max()
            print(f"round {round_} {dtype}: TensorFlow {ours:.1f} ms, patches x matmul "
                  f"{patches:.1f} ms ({ours / patches:.2f}x), largest difference "
                  f"{error:.1e} of the largest value", flush=True)


if __name__ == "__main__":
    main()

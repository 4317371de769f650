"""The convolution next to the 4x4 bottleneck (4x4, stride 2, 8x8x256 -> 4x4x512: the
discriminator's `down4`; the generator's `up1` runs the same three kernels) in float32
(or --precision), four ways, forward, input gradient and weight gradient:

- ``tensorflow``: ``tf.nn.conv2d``, as the networks run it;
- ``space_to_depth``: the padded input rearranged into 2x2 blocks (5x5x1024), then a 2x2
  stride-1 convolution with the kernel rearranged to match;
- ``tap_matmul``: the same blocks, their four 2x2 taps side by side as patches
  (1024 x 4096), and one matrix product with the kernel (4096 x 512), differentiated by
  TensorFlow (its input gradient scatters the patches back);
- ``patches_conv``: the same product with its gradients written by hand, as the networks
  train (``anime_gan.patches_conv``): the input gradient adds the patches' rows back with
  four pads, and the weight gradient reuses the forward pass's patches.

All four compute the same sums (the largest difference is printed). Prints the median
of 15 interleaved calls (``anime_gan.measure.median_times``) for each of --rounds rounds.

    python docs/speed/bottleneck_conv_forms.py --rounds=3 [--precision=bfloat16]
"""

import argparse

import numpy as np
import tensorflow as tf

from anime_gan.measure import median_times
from anime_gan.patches_conv import downsample_by_patches


def tensorflow_conv(x, kernel):
    return tf.nn.conv2d(x, kernel, 2, "SAME")


def _blocks(x):
    """The 'same'-padded input as 2x2 blocks: [N, 5, 5, 4C] for an 8x8 input."""
    return tf.nn.space_to_depth(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 2)


def _block_kernel(kernel):
    """[4, 4, C, K] as [2, 2, 4C, K]: kernel row 2a + p is block tap a, in-block row p."""
    cin, cout = kernel.shape[2], kernel.shape[3]
    taps = tf.reshape(kernel, [2, 2, 2, 2, cin, cout])  # a, p, b, q, C, K
    return tf.reshape(tf.transpose(taps, [0, 2, 1, 3, 4, 5]), [2, 2, 4 * cin, cout])


def space_to_depth_conv(x, kernel):
    return tf.nn.conv2d(_blocks(x), _block_kernel(kernel), 1, "VALID")


def tap_matmul_conv(x, kernel):
    blocks, size = _blocks(x), x.shape[1] // 2
    patches = tf.concat([blocks[:, a:a + size, b:b + size, :] for a in (0, 1) for b in (0, 1)],
                        axis=-1)
    flat = tf.matmul(tf.reshape(patches, [-1, patches.shape[-1]]),
                     tf.reshape(_block_kernel(kernel), [-1, kernel.shape[-1]]))
    return tf.reshape(flat, [-1, size, size, kernel.shape[-1]])


def timed_piece(conv, piece):
    """A tf.function computing one piece of ``conv``: forward, input or weight gradient."""
    @tf.function
    def run(x, kernel, output_gradient):
        if piece == "forward":
            return conv(x, kernel)
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = conv(x, kernel)
        wanted = x if piece == "input gradient" else kernel
        return tape.gradient(y, wanted, output_gradients=output_gradient)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    options = parser.parse_args()
    rounds, dtype = options.rounds, options.precision
    rng = np.random.default_rng(0)
    args = (tf.cast(rng.standard_normal((64, 8, 8, 256)), dtype),
            tf.cast(0.02 * rng.standard_normal((4, 4, 256, 512)), dtype),
            tf.cast(rng.standard_normal((64, 4, 4, 512)), dtype))
    ways = {"tensorflow": tensorflow_conv, "space_to_depth": space_to_depth_conv,
            "tap_matmul": tap_matmul_conv, "patches_conv": downsample_by_patches}
    pieces = ("forward", "input gradient", "weight gradient")
    runs = {(way, piece): timed_piece(conv, piece) for way, conv in ways.items()
            for piece in pieces}
    for piece in pieces:
        expected = runs["tensorflow", piece](*args).numpy().astype("float32")
        for way in ways:
            error = np.abs(runs[way, piece](*args).numpy().astype("float32") - expected).max()
            print(f"{way} {piece}: largest difference {error / np.abs(expected).max():.1e} "
                  "of the largest value")
    for round_ in range(1, rounds + 1):
        seconds = median_times({key: lambda run=run: run(*args).numpy()
                                for key, run in runs.items()}, rounds=15)
        for piece in pieces:
            print(f"round {round_} {piece}: " + ", ".join(
                f"{way} {1000 * seconds[way, piece]:.1f} ms" for way in ways), flush=True)


if __name__ == "__main__":
    main()

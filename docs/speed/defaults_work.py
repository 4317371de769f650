"""What EMA and DiffAugment (the defaults) cost inside a step, and beside it.

Inside: one batch's DiffAugment (64 images of 64x64, the default policy) forward, and
forward with its gradient, and the moving average's update of the generator, each run
ten times in one compiled function so that a call's own overhead is spread thin (the
figure is a tenth of the call, less a tenth of the same call doing almost nothing):
once with the data in the caches, once from memory, as the step finds it.
Beside: the DCGAN's step built twice plain (no EMA, no DiffAugment) and twice with the
defaults, the four interleaved for --rounds rounds, --repeats times
(``anime_gan.step_profile --nolayers`` times one of each); each round's ratio of a
defaults step to the plain step timed just before it, pooled over rounds and repeats,
gives the figure.

    python docs/speed/defaults_work.py --precision=bfloat16
"""

import argparse
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from anime_gan import augment, build_generator, devices
from anime_gan.config import TrainConfig
from anime_gan.gan_builder import build_gan
from anime_gan.measure import interleaved_times, median_times
from weight_gradient_step import synced_step

TIMES = 10
SWEEP_FLOATS = 25_000_000  # 100 MB, well over the caches


def ten_times(work, batches, sweeps=None):
    """A call running ``work`` on each of ``batches`` in one compiled function.  With
    ``sweeps`` (two large tensors), each run waits for a sum over one of them, and the
    next for the run before: one after another, each starting from memory, as in a step."""
    @tf.function
    def run():
        if sweeps is None:
            return tf.add_n([tf.cast(tf.reduce_sum(work(batches[i])), tf.float32)
                             for i in range(TIMES)])
        total = tf.constant(0.0)
        for i in range(TIMES):
            with tf.control_dependencies([total]):
                swept = tf.reduce_sum(sweeps[i % 2])
            with tf.control_dependencies([swept]):
                total += tf.cast(tf.reduce_sum(work(batches[i])), tf.float32)
        return total
    return lambda: float(run())


def with_gradient(function, upstream):
    def work(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x, output_gradients=upstream)
    return work


def inside_the_step(rounds):
    """Each piece's time with its data in the caches (the ten runs independent), then
    from memory (each run after a 100 MB sweep), less the same call's near-nothing."""
    batches = tf.random.uniform((TIMES, 64, 64, 64, 3), -1, 1)
    seed = keras.random.SeedGenerator(0)
    policy = augment.parse_policy(TrainConfig(output_dir="unused").diffaugment)

    def diff_augment(x):
        return augment.diff_augment(x, policy, seed)
    averages, weights = build_generator().weights, build_generator().weights
    update = devices.moving_average_update(averages, weights)
    pieces = {
        "nothing": lambda x: x[0, 0, 0, 0],
        "DiffAugment forward": diff_augment,
        "DiffAugment forward and gradient": with_gradient(diff_augment, batches[0]),
        "moving average update": lambda x: (update(tf.constant(0.99)), x[0, 0, 0, 0])[1],
    }
    sweeps = tf.random.uniform((2, SWEEP_FLOATS))
    for where, kept in (("in the caches", None), ("from memory", sweeps)):
        times = median_times({name: ten_times(work, batches, kept)
                              for name, work in pieces.items()}, rounds)
        print(", ".join(f"{name} {1000 * (seconds - times['nothing']) / TIMES:.2f} ms"
                        for name, seconds in times.items() if name != "nothing")
              + f" ({where})", flush=True)


def beside_the_step(precision, rounds, repeats):
    config = TrainConfig(model="dcgan", batch_size=64, mixed_precision=precision,
                         output_dir="unused")
    plain = dataclasses.replace(config, ema_decay=0.0, diffaugment="")
    steps = {}
    for name, settings in (("plain 1", plain), ("defaults 1", config), ("plain 2", plain),
                           ("defaults 2", config)):
        keras.utils.set_random_seed(0)
        steps[name] = synced_step(build_gan(settings))
    pooled = []  # each round's defaults step against the plain step timed just before it
    for repeat in range(1, repeats + 1):
        times = interleaved_times(steps, rounds)
        print(f"repeat {repeat}, {precision}: " + ", ".join(
            f"{name} {1000 * np.median(t):.1f} ms" for name, t in times.items()), flush=True)
        for pair in ("1", "2"):
            ratios = np.divide(times[f"defaults {pair}"], times[f"plain {pair}"])
            pooled.extend(ratios)
            print(f"  defaults {pair} against plain {pair}: "
                  f"{100 * (np.median(ratios) - 1):+.1f}%", flush=True)
    low, middle, high = 100 * (np.percentile(pooled, [25, 50, 75]) - 1)
    print(f"all {len(pooled)} rounds, {precision}: the defaults' step {middle:+.1f}% of the "
          f"plain step (median; quartiles {low:+.1f}% and {high:+.1f}%)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="bfloat16")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    inside_the_step(rounds=15)
    beside_the_step(args.precision, args.rounds, args.repeats)


if __name__ == "__main__":
    main()

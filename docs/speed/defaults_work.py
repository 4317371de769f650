"""What EMA and DiffAugment (the defaults) cost inside a step, and beside it.

Inside: one batch's DiffAugment (64 images of 64x64, the default policy) forward, and
forward with its gradient, and the moving average's update of the generator, each run
ten times in one compiled function so that a call's own overhead is spread thin (the
figure is a tenth of the call, less a tenth of the same call doing almost nothing).
Beside: the DCGAN's step built twice plain (no EMA, no DiffAugment) and twice with the
defaults, the four interleaved for --rounds rounds, --repeats times
(``anime_gan.step_profile --nolayers`` times one of each).

    python docs/speed/defaults_work.py --precision=bfloat16
"""

import argparse
import dataclasses

import keras
import tensorflow as tf

from anime_gan import augment, build_generator, devices
from anime_gan.config import TrainConfig
from anime_gan.gan_builder import build_gan
from anime_gan.measure import median_times
from weight_gradient_step import synced_step

TIMES = 10


def ten_times(work, batches):
    """A call running ``work`` on each of ``batches`` in one compiled function."""
    @tf.function
    def run():
        return tf.add_n([tf.reduce_sum(work(batches[i])) for i in range(TIMES)])
    return lambda: float(run())


def with_gradient(function, upstream):
    def work(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x, output_gradients=upstream)
    return work


def inside_the_step(rounds):
    batches = tf.random.uniform((TIMES, 64, 64, 64, 3), -1, 1)
    seed = keras.random.SeedGenerator(0)
    policy = augment.parse_policy(TrainConfig(output_dir="unused").diffaugment)

    def diff_augment(x):
        return augment.diff_augment(x, policy, seed)
    averages, weights = build_generator().weights, build_generator().weights
    update = devices.moving_average_update(averages, weights)
    calls = {
        "nothing": ten_times(lambda x: x * 1.0, batches),
        "DiffAugment forward": ten_times(diff_augment, batches),
        "DiffAugment forward and gradient": ten_times(
            with_gradient(diff_augment, batches[0]), batches),
        "moving average update": ten_times(
            lambda x: (update(tf.constant(0.99)), x[0, 0, 0, 0])[1], batches),
    }
    times = median_times(calls, rounds)
    for name, seconds in times.items():
        if name != "nothing":
            print(f"{name}: {1000 * (seconds - times['nothing']) / TIMES:.2f} ms", flush=True)


def beside_the_step(precision, rounds, repeats):
    config = TrainConfig(model="dcgan", batch_size=64, mixed_precision=precision,
                         output_dir="unused")
    plain = dataclasses.replace(config, ema_decay=0.0, diffaugment="")
    steps = {}
    for name, settings in (("plain 1", plain), ("defaults 1", config), ("plain 2", plain),
                           ("defaults 2", config)):
        keras.utils.set_random_seed(0)
        steps[name] = synced_step(build_gan(settings))
    for repeat in range(1, repeats + 1):
        times = median_times(steps, rounds)
        print(f"repeat {repeat}, {precision}: " + ", ".join(
            f"{name} {1000 * t:.1f} ms" for name, t in times.items()), flush=True)
        for pair in ("1", "2"):
            extra = times[f"defaults {pair}"] / times[f"plain {pair}"] - 1
            print(f"  defaults {pair} against plain {pair}: {100 * extra:+.1f}%", flush=True)


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

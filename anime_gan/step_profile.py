"""Where a training step's time goes: ``python -m anime_gan.step_profile [flags]``.

Times, in one process and interleaved (round after round, the median of each), every
piece of a GAN's training step on its real shapes: each layer's forward pass, input
gradient and weight gradient (for a convolution, the three different convolutions;
batch norm and activations likewise), both optimizers' updates, DiffAugment and the
moving average; then the whole step with the defaults and plain (no EMA, no
DiffAugment).  Each piece is set against the machine's ceilings (``ceilings``: large
matrix products and the discriminator's largest convolution), and the pieces, counted
as often as the DCGAN step runs them, are added up beside the measured step.
"""

import dataclasses

import keras
import tensorflow as tf
from absl import app, flags

from anime_gan.measure import layer_flops, median_times
from anime_gan.config import TrainConfig
from anime_gan.gan_builder import build_gan


def define_flags(flag_values=flags.FLAGS):
    define = dict(flag_values=flag_values)
    flags.DEFINE_string("model", "dcgan", "The model whose step is profiled.", **define)
    flags.DEFINE_list("precisions", ["bfloat16", "float32"], "Compute precisions.", **define)
    flags.DEFINE_integer("batch_size", 64, "Batch size.", **define)
    flags.DEFINE_boolean("layers", True, "Time each layer too (else the step, the optimizers, "
                                         "DiffAugment and the moving average only).", **define)
    flags.DEFINE_integer("rounds", 15, "Interleaved rounds; each piece's median is shown.",
                         **define)


def _synced(function):
    """A tf.function returning one number, so a call waits for all of its work."""
    @tf.function
    def compiled():
        return tf.add_n([tf.reduce_sum(tf.cast(t, tf.float32))
                         for t in tf.nest.flatten(function())])
    return lambda: float(compiled())


CEILING_CONV = "ceiling: conv 128->256 fwd+bwd"


def ceiling_pieces(dtype, size=2048):
    """({name: function}, {name: FLOPs}) of this machine's ceilings in ``dtype``: a
    size x size matrix product, and the DCGAN discriminator's 128->256 convolution
    (16x16 -> 8x8, batch 64) forward and backward."""
    a = tf.cast(tf.random.normal((size, size)), dtype)
    x = tf.cast(tf.random.normal((64, 16, 16, 128)), dtype)
    kernel = tf.Variable(tf.cast(tf.random.normal((4, 4, 128, 256)) * 0.02, dtype))

    def conv():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel, 2, "SAME")
        # y is returned too: else the forward convolution, not needed for the
        # gradients, would be pruned from the graph and the rate overstated by half.
        return [y] + tape.gradient(y, [x, kernel], output_gradients=tf.ones_like(y))
    pieces = {f"ceiling: matmul {size}": _synced(lambda: tf.matmul(a, a)),
              CEILING_CONV: _synced(conv)}
    flops = {f"ceiling: matmul {size}": 2 * size ** 3,
             CEILING_CONV: 3 * 2 * 64 * 8 * 8 * 16 * 128 * 256}
    return pieces, flops


def ceilings(rounds=10, size=2048):
    """{name: GFLOP/s} of ``ceiling_pieces`` in float32 and bfloat16."""
    rates = {}
    for dtype in ("float32", "bfloat16"):
        pieces, flops = ceiling_pieces(dtype, size)
        times = median_times(pieces, rounds)
        rates.update({f"{name[len('ceiling: '):]} {dtype}": flops[name] / times[name] / 1e9
                      for name in pieces})
    return rates


def layer_pieces(network, batch_size, prefix):
    """{name: function} timing each weighted layer's forward pass, input gradient and
    weight gradient, and the FLOPs of each (a gradient costs what the forward pass does)."""
    pieces, flops = {}, {}
    for layer in network.layers:
        if not layer.weights or isinstance(layer, keras.layers.InputLayer):
            continue
        shape = (batch_size,) + tuple(layer.input.shape[1:])
        x = tf.cast(tf.random.normal(shape), layer.compute_dtype)
        y_shape = (batch_size,) + tuple(layer.output.shape[1:])
        upstream = tf.cast(tf.random.normal(y_shape), layer.compute_dtype)
        name = f"{prefix} {layer.name}"
        conv_flops = layer_flops(layer) * batch_size

        def forward(layer=layer, x=x):
            return layer(x, training=True)

        def gradient(wrt, layer=layer, x=x, upstream=upstream):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
            sources = [x] if wrt == "input" else layer.trainable_weights
            return tape.gradient(y, sources, output_gradients=tf.cast(upstream, y.dtype))
        pieces[f"{name} forward"] = _synced(forward)
        pieces[f"{name} input gradient"] = _synced(lambda g=gradient: g("input"))
        pieces[f"{name} weight gradient"] = _synced(lambda g=gradient: g("weights"))
        for part in ("forward", "input gradient", "weight gradient") if conv_flops else ():
            flops[f"{name} {part}"] = conv_flops
    return pieces, flops


# How often the DCGAN step runs each piece: D on the real and the fake batch and again
# on the fakes for G's update; D's weight gradient for real and fake; its input gradient
# for real, fake and G's update; G once each way.
DCGAN_COUNTS = {("discriminator", "forward"): 3, ("discriminator", "input gradient"): 3,
                ("discriminator", "weight gradient"): 2, ("generator", "forward"): 1,
                ("generator", "input gradient"): 1, ("generator", "weight gradient"): 1}


def step_pieces(config, batch_size):
    """The whole train step with the defaults, plain, with either extra alone, and the
    per-step extras."""
    default = build_gan(config)
    plain, ema_only, augment_only = (
        build_gan(dataclasses.replace(config, **settings)) for settings in (
            dict(ema_decay=0.0, diffaugment=""), dict(diffaugment=""), dict(ema_decay=0.0)))
    # float32, as the step augments them: the real batch and the generator's output.
    real = tf.random.uniform((batch_size, config.image_size, config.image_size, 3), -1, 1)
    pieces = {
        "step, defaults (EMA + DiffAugment)": _synced(lambda: default.train_step(real)),
        "step, plain": _synced(lambda: plain.train_step(real)),
        "step, EMA only": _synced(lambda: ema_only.train_step(real)),
        "step, DiffAugment only": _synced(lambda: augment_only.train_step(real)),
        # The DCGAN step augments three batches: real and fake for D, fake again for G.
        "DiffAugment forward+backward, one batch": _synced(
            lambda: _augment_both_ways(default, real)),
        "moving average update": _synced(lambda: (default._update_ema(), tf.zeros(()))[1]),
    }
    for side, network, optimizer in (
            ("generator", default.generator, default.g_optimizer),
            ("discriminator", default.discriminator, default.d_optimizer)):
        variables = network.trainable_variables
        gradients = [tf.random.normal(v.shape) * 1e-3 for v in variables]
        pieces[f"{side} optimizer update"] = _synced(
            lambda o=optimizer, g=gradients, v=variables: (
                o.apply_gradients(zip(g, v)), tf.zeros(()))[1])
    return default, pieces


def _augment_both_ways(gan, images):
    with tf.GradientTape() as tape:
        tape.watch(images)
        augmented = gan.augment(images)
    return tape.gradient(augmented, images, output_gradients=tf.ones_like(augmented))


def profile(config, rounds, layers=True):
    """Rows (piece, ms, GFLOP/s) and the step's figures for one precision."""
    gan, pieces = step_pieces(config, config.batch_size)
    # Timed in the same rounds as the pieces, so that a busy spell lowers both alike.
    pieces_of_ceiling, flops = ceiling_pieces(config.mixed_precision)
    pieces.update(pieces_of_ceiling)
    for side, network in (("generator", gan.generator), ("discriminator", gan.discriminator)
                          ) if layers else ():
        layer_functions, layer_piece_flops = layer_pieces(network, config.batch_size, side)
        pieces.update(layer_functions)
        flops.update(layer_piece_flops)
    times = median_times(pieces, rounds)
    counted = sum(seconds * DCGAN_COUNTS.get((name.split(" ")[0], _part(name)), 0)
                  for name, seconds in times.items())
    counted += sum(times[f"{side} optimizer update"] for side in ("generator", "discriminator"))
    return times, flops, counted


def _part(name):
    for part in ("forward", "input gradient", "weight gradient"):
        if name.endswith(part):
            return part
    return None


def report(precision, times, flops, counted):
    """Prints each piece's time and, for convolutions, its rate against the convolution
    ceiling measured in the same rounds.  (Batch norm's gradients include its forward.)"""
    ceiling = flops[CEILING_CONV] / times[CEILING_CONV] / 1e9
    print(f"\n{precision}: ceiling for convolutions {ceiling:.0f} GFLOP/s")
    print(f"{'piece':<52} {'ms':>7} {'GFLOP/s':>8} {'of ceiling':>10}")
    for name, seconds in times.items():
        line = f"{name:<52} {1000 * seconds:7.2f}"
        if name in flops:
            rate = flops[name] / seconds / 1e9
            line += f" {rate:8.0f} {100 * rate / ceiling:9.0f}%"
        print(line)
    step = times["step, plain"]
    if any(name.endswith(" weight gradient") for name in times):
        print(f"pieces counted as the DCGAN step runs them: {1000 * counted:.0f} ms; "
              f"the plain step measured: {1000 * step:.0f} ms")
    for name, label in (("step, defaults (EMA + DiffAugment)", "EMA + DiffAugment"),
                        ("step, EMA only", "EMA"), ("step, DiffAugment only", "DiffAugment")):
        print(f"{label}: {100 * (times[name] / step - 1):+.1f}% of the plain step")


def main(argv):
    FLAGS = flags.FLAGS
    for precision in FLAGS.precisions:
        config = TrainConfig(model=FLAGS.model, batch_size=FLAGS.batch_size,
                             mixed_precision=precision, output_dir="unused")
        keras.utils.set_random_seed(0)
        times, flops, counted = profile(config, FLAGS.rounds, FLAGS.layers)
        report(precision, times, flops, counted)


if __name__ == "__main__":
    define_flags()
    app.run(main)

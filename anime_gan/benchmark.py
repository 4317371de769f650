"""Training and input-pipeline speed: python -m anime_gan.benchmark [flags].

For every model, batch size, precision and data source asked for, a fresh
process builds the GAN, runs warm-up steps (tracing, cache fill), then times
``model.fit`` steps.  It reports real images consumed per second, milliseconds
per generator step (the median step), the step's FLOP count (from the networks' convolutions and
the passes the algorithm makes; ``step_flops``) and the GFLOP/s achieved, and
the process's peak resident memory.

Data sources: ``synthetic`` is one random batch held in memory (the model
alone); ``pipeline`` is the real ``tf.data`` pipeline over ``--data_dir``
(its cache filled before timing).  The input pipeline is also timed alone:
decoding and resizing every JPEG (our cache empty), then batches read from
the filled in-memory cache.

The full figures are written as JSON (``--output_json``), and a table is printed last.
"""

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from anime_gan.config import TrainConfig
from anime_gan.data import make_stream
from anime_gan.models import CriticLoopGAN
from anime_gan.measure import (StepTimer, cpu_name, forward_flops, in_fresh_process,
                               peak_rss_mb)
from anime_gan.gan_builder import build_gan


def define_flags(flag_values=flags.FLAGS):
    """The benchmark's own flags; defined only when it runs as a program, so that
    importing this module beside the command line's flags clashes with nothing."""
    define = dict(flag_values=flag_values)
    flags.DEFINE_list("models", ["dcgan", "wgan"], "Models to time.", **define)
    flags.DEFINE_list("batch_sizes", ["64"], "Batch sizes (per critic update for wgan).",
                      **define)
    flags.DEFINE_list("precisions", ["float32", "bfloat16"],
                      "float32, bfloat16 and/or float16.", **define)
    flags.DEFINE_list("data", ["synthetic", "pipeline"],
                      "synthetic (one in-memory batch) and/or pipeline (tf.data over "
                      "--data_dir).", **define)
    flags.DEFINE_string("data_dir", None, "JPEG folder for the pipeline figures; default: "
                                          "the built-in faces (no JPEG decoding to time).",
                        **define)
    flags.DEFINE_integer("image_size", 64, "Image size.", **define)
    flags.DEFINE_integer("warmup_steps", 3, "Generator steps run before timing.", **define)
    flags.DEFINE_integer("steps", 20, "Timed generator steps.", **define)
    flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.", **define)
    flags.DEFINE_boolean("plain", False, "Time the plain algorithms: no EMA, no DiffAugment "
                                         "(by default the training defaults are timed).",
                         **define)
    flags.DEFINE_boolean("pipeline_alone", True, "Also time the input pipeline on its own.",
                         **define)
    flags.DEFINE_string("output_json", "benchmark.json", "Where the full figures are written.",
                        **define)
    flags.DEFINE_boolean("against_peer", False, "Time --models against the seed projects' "
                         "PyTorch GANs in interleaved rounds and print the ratios "
                         "(anime_gan.peer_benchmark); --against-peer works too.", **define)
    flags.DEFINE_string("peer_dir", None, "The PyTorch peers' folder (../shared/peers).",
                        **define)
    flags.DEFINE_string("peer_python", "python3", "A Python with PyTorch, for the peers.",
                        **define)
    flags.DEFINE_integer("rounds", 3, "Interleaved rounds of --against-peer.", **define)


def step_flops(gan, batch_size):
    """FLOPs of one ``train_step`` on batches of ``batch_size``, from the networks and the
    algorithm, a backward pass costing twice its forward pass (input and weight gradients)."""
    g, d = forward_flops(gan.generator), forward_flops(gan.discriminator)
    if isinstance(gan, CriticLoopGAN):
        # Fakes; D on real and fake, backward; a penalty: D on the interpolates and its
        # input gradient, then the backward pass through the input gradient only (the
        # critic's LeakyReLU has no second derivative, so none flows into its forward
        # pass: anime_gan.penalty_leaky_relu).
        critic_update = g + (2 + 4) * d + gan.penalty_passes * (2 + 2) * d
        generator_update = 3 * g + 2 * d  # G forward + backward; D forward + input gradient
        return batch_size * (gan.n_critic * critic_update + generator_update)
    # G forward + backward; D forward on real and fake + backward, then forward + input
    # gradient on the same fakes for G's update.
    return batch_size * (3 * g + 8 * d)


def time_training(model, batch_size, precision, data_source, data_dir=None, image_size=64,
                  warmup_steps=3, steps=20, jit_compile=False, plain=False):
    """Figures of ``steps`` timed training steps after ``warmup_steps``; meant for a fresh
    process, so that the peak memory is this configuration's."""
    extras = dict(ema_decay=0.0, diffaugment="") if plain else {}
    config = TrainConfig(model=model, batch_size=batch_size, image_size=image_size,
                         data_dir=data_dir, mixed_precision=precision,
                         jit_compile=jit_compile, output_dir="unused", **extras)
    keras.utils.set_random_seed(config.seed)
    gan = build_gan(config)
    per_step = gan.real_batches_per_step
    if data_source == "synthetic":
        shape = (batch_size,) + ((per_step,) if per_step > 1 else ()) + (image_size,) * 2 + (3,)
        batch = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
        batches = tf.data.Dataset.from_tensors(batch).repeat()
    else:
        stream = make_stream(image_size, batch_size, data_dir, batches_per_step=per_step)
        stream.images.reduce(0, lambda count, _: count + 1)  # fill the cache
        batches = stream.batches()
    flops = step_flops(gan, batch_size)

    timer = StepTimer(warmup_steps)
    gan.fit(batches, epochs=1, steps_per_epoch=warmup_steps + steps, callbacks=[timer],
            verbose=0, shuffle=False)
    seconds = timer.seconds_per_step()
    return {
        "model": model, "batch_size": batch_size, "precision": precision,
        "jit_compile": jit_compile, "data": data_source,
        "ema_decay": config.ema_decay, "diffaugment": config.diffaugment,
        "data_dir": data_dir if data_source == "pipeline" else None,
        "image_size": image_size, "timed_steps": steps,
        "real_images_per_step": batch_size * per_step,
        "ms_per_generator_step": 1000.0 * seconds,
        "real_images_per_s": batch_size * per_step / seconds,
        "gflop_per_step": flops / 1e9,
        "gflop_per_real_image": flops / 1e9 / (batch_size * per_step),
        "gflop_per_s": flops / 1e9 / seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def time_pipeline(data_dir, image_size=64, batch_size=64, cached_batches=200):
    """Input-pipeline throughput alone: JPEG decode + resize into the (empty) cache, then
    shuffled float batches from the filled in-memory cache."""
    started = time.perf_counter()
    stream = make_stream(image_size, batch_size, data_dir)  # decodes into the cache
    decode_seconds = time.perf_counter() - started
    batches = iter(stream.batches())
    next(batches)
    started = time.perf_counter()
    for _ in range(cached_batches):
        next(batches)
    cached_seconds = time.perf_counter() - started
    return {
        "data_dir": data_dir, "image_size": image_size, "images": stream.count,
        "decode_images_per_s": stream.count / decode_seconds,
        "cached_images_per_s": cached_batches * batch_size / cached_seconds,
        "cache_mb": stream.count * image_size * image_size * 3 / 2**20,
        "peak_rss_mb": peak_rss_mb(),
    }


def table(results):
    lines = [f"{'model':<6} {'precision':<9} {'xla':<3} {'batch':>5} {'data':<9} "
             f"{'images/s':>8} {'ms/G-step':>9} {'GFLOP/img':>9} {'GFLOP/s':>7} {'peak MB':>7}"]
    for r in results["training"]:
        lines.append(
            f"{r['model']:<6} {r['precision']:<9} {'yes' if r['jit_compile'] else 'no':<3} "
            f"{r['batch_size']:>5} {r['data']:<9} {r['real_images_per_s']:>8.1f} "
            f"{r['ms_per_generator_step']:>9.0f} {r['gflop_per_real_image']:>9.2f} "
            f"{r['gflop_per_s']:>7.0f} {r['peak_rss_mb']:>7.0f}")
    if results.get("pipeline"):
        p = results["pipeline"]
        lines.append(f"input pipeline alone, {p['images']} images at {p['image_size']}px: "
                     f"decode+resize {p['decode_images_per_s']:.0f} images/s, from the cache "
                     f"{p['cached_images_per_s']:.0f} images/s (cache {p['cache_mb']:.0f} MiB)")
    return "\n".join(lines)


def main(argv):
    FLAGS = flags.FLAGS
    if FLAGS.against_peer:
        from anime_gan import peer_benchmark

        return peer_benchmark.main(FLAGS)
    results = {"training": [], "pipeline": None, "cpu": cpu_name(), "cpu_count": os.cpu_count()}
    for model in FLAGS.models:
        for batch_size in map(int, FLAGS.batch_sizes):
            for precision in FLAGS.precisions:
                for data_source in FLAGS.data:
                    results["training"].append(in_fresh_process(
                        time_training, model=model, batch_size=batch_size,
                        precision=precision, data_source=data_source,
                        data_dir=FLAGS.data_dir, image_size=FLAGS.image_size,
                        warmup_steps=FLAGS.warmup_steps, steps=FLAGS.steps,
                        jit_compile=FLAGS.jit_compile, plain=FLAGS.plain))
                    print(json.dumps(results["training"][-1]), flush=True)
    if FLAGS.pipeline_alone and FLAGS.data_dir:
        results["pipeline"] = in_fresh_process(time_pipeline, data_dir=FLAGS.data_dir,
                                               image_size=FLAGS.image_size)
    with open(FLAGS.output_json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"Full figures: {FLAGS.output_json}")
    print(table(results))


def _underscored(argv):
    """``--against-peer`` -> ``--against_peer``: flags may be spelled with hyphens."""
    return [arg.split("=", 1)[0].replace("-", "_").replace("__", "--", 1)
            + ("=" + arg.split("=", 1)[1] if "=" in arg else "")
            if arg.startswith("--") else arg for arg in argv]


if __name__ == "__main__":
    define_flags()
    app.run(main, argv=_underscored(sys.argv))

"""The benchmark's FLOP count and figures (not timings: speed is not asserted here)."""

import pytest
import tensorflow as tf

from anime_gan import TrainConfig, benchmark, build_gan

# By hand, 2 x K*K*C_in*C_out per position, for latent_dim 128 at 64x64:
# generator: 1x1 -> 4x4 (128 -> 512), then transposed convolutions from 4, 8, 16, 32 pixels.
GENERATOR_FLOPS = 2 * 16 * (128 * 512 + 16 * 512 * 256 + 64 * 256 * 128 + 256 * 128 * 64
                            + 1024 * 64 * 3)
# discriminator: convolutions to 32, 16, 8, 4 pixels, then the 4x4 score.
DISCRIMINATOR_FLOPS = 2 * 16 * (1024 * 3 * 64 + 256 * 64 * 128 + 64 * 128 * 256
                                + 16 * 256 * 512 + 512)


def profiled_flops(gan, element_spec):
    """What the TensorFlow profiler counts in the traced step's graph.  It includes gradient
    ops that the runtime prunes as unused, so it bounds the true count from above."""
    graph = tf.function(gan.train_step).get_concrete_function(element_spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def test_forward_flops_match_the_hand_count():
    gan = build_gan(TrainConfig(model="dcgan", output_dir="unused"))
    assert benchmark.forward_flops(gan.generator) == GENERATOR_FLOPS == 209_715_200
    assert benchmark.forward_flops(gan.discriminator) == DISCRIMINATOR_FLOPS


@pytest.mark.parametrize("model, n_critic, per_image", [
    ("dcgan", 1, 3 * GENERATOR_FLOPS + 8 * DISCRIMINATOR_FLOPS),
    ("wgan", 2, ((GENERATOR_FLOPS + 10 * DISCRIMINATOR_FLOPS) * 2
                 + 3 * GENERATOR_FLOPS + 2 * DISCRIMINATOR_FLOPS)),
])
def test_step_flops_follow_the_algorithm_and_stay_under_the_profiled_graph(
        model, n_critic, per_image):
    gan = build_gan(TrainConfig(model=model, n_critic=n_critic, output_dir="unused"))
    batch = 8
    counted = benchmark.step_flops(gan, batch)
    assert counted == batch * per_image
    shape = (batch, n_critic, 64, 64, 3) if n_critic > 1 else (batch, 64, 64, 3)
    profiled = profiled_flops(gan, tf.TensorSpec(shape, tf.float32))
    assert 0.8 * profiled < counted < profiled


@pytest.mark.long
def test_pipeline_and_training_figures(image_folder):
    pipeline = benchmark.time_pipeline(image_folder, batch_size=4, cached_batches=3)
    assert pipeline["images"] == 24
    assert pipeline["decode_images_per_s"] > 0 and pipeline["cached_images_per_s"] > 0
    assert pipeline["cache_mb"] == 24 * 64 * 64 * 3 / 2**20

    run = benchmark.time_training("wgan", 4, "float32", "synthetic", warmup_steps=1, steps=1)
    assert run["real_images_per_step"] == 4 * 5
    assert run["real_images_per_s"] == pytest.approx(1000 * 20 / run["ms_per_generator_step"])
    assert run["gflop_per_s"] * run["ms_per_generator_step"] / 1000 == pytest.approx(
        run["gflop_per_step"])
    assert run["peak_rss_mb"] > 100
    text = benchmark.table({"training": [run], "pipeline": pipeline})
    assert text.splitlines()[1].startswith("wgan   float32   no")
    assert "input pipeline alone, 24 images" in text


def test_importing_the_benchmark_defines_no_flags():
    """Its flags exist only when it runs as a program, so they never meet the CLI's."""
    import importlib

    from absl import flags

    before = set(flags.FLAGS)
    importlib.reload(benchmark)
    assert set(flags.FLAGS) == before
    own = flags.FlagValues()
    benchmark.define_flags(own)
    assert {"models", "precisions", "steps"} <= set(own)

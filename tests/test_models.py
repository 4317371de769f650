"""The GAN models' train_steps: what one step updates, computes and reports."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import anime_gan
from anime_gan import TrainConfig, build_gan

BATCH = 4


def small_gan(model, **kwargs):
    return build_gan(TrainConfig(model=model, latent_dim=16, output_dir="unused", **kwargs))


def real_images(*shape):
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(-1, 1, shape + (64, 64, 3)), tf.float32)


def weights_of(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def changed(before, model):
    return all(not np.array_equal(b, a.numpy()) for b, a in zip(before, model.trainable_weights))


@pytest.mark.parametrize("model, batch_shape, metric_names", [
    ("dcgan", (BATCH,), {"d_loss", "g_loss", "real_score", "fake_score"}),
    ("wgan", (BATCH, 2), {"d_loss", "g_loss", "wasserstein", "gradient_penalty"}),
    ("wgan_clip", (BATCH, 2), {"d_loss", "g_loss", "wasserstein"}),
    ("sngan", (BATCH, 2), {"d_loss", "g_loss", "real_score", "fake_score"}),
])
def test_one_train_step_updates_both_networks(model, batch_shape, metric_names):
    gan = small_gan(model, n_critic=2)
    g_before, d_before = weights_of(gan.generator), weights_of(gan.discriminator)

    logs = gan.train_step(real_images(*batch_shape))

    assert set(logs) == metric_names
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert changed(g_before, gan.generator)
    if model == "sngan":
        # While every score is inside both hinge margins, the score's bias gets -1 from
        # each real image and +1 from each fake: its gradient is exactly 0.
        d_before = [w for w, v in zip(d_before, gan.discriminator.trainable_weights)
                    if not v.path.endswith("to_score/bias")]
        assert all(not np.array_equal(b, v.numpy()) for b, v in zip(
            d_before, [v for v in gan.discriminator.trainable_weights
                       if not v.path.endswith("to_score/bias")]))
    else:
        assert changed(d_before, gan.discriminator)


def test_dcgan_scores_are_probabilities():
    logs = small_gan("dcgan").train_step(real_images(BATCH))
    assert 0.0 < float(logs["real_score"]) < 1.0
    assert 0.0 < float(logs["fake_score"]) < 1.0


def test_wgan_takes_n_critic_critic_updates_per_generator_update():
    gan = small_gan("wgan", n_critic=3)
    gan.train_step(real_images(BATCH, 3))
    assert int(gan.d_optimizer.iterations) == 3
    assert int(gan.g_optimizer.iterations) == 1
    assert gan.real_batches_per_step == 3


@pytest.mark.parametrize("shape", [(BATCH,), (BATCH, 2)])
def test_a_critic_loop_step_refuses_too_few_real_batches_saying_the_shape_it_takes(shape):
    """A Keras user's WGANGP.fit on plain [N, H, W, 3] batches gets told what to give."""
    gan = small_gan("wgan", n_critic=3)
    with pytest.raises(ValueError, match=r"WGANGP with n_critic=3 takes 3 real batches a "
                                         r"step, shaped \[N, 3, H, W, 3\]; got "
                                         + re.escape(str(shape + (64, 64, 3)))):
        gan.train_step(real_images(*shape))
    assert int(gan.d_optimizer.iterations) == 0


def test_a_critic_loop_step_with_one_critic_update_takes_plain_batches():
    gan = small_gan("sngan")
    gan.train_step(real_images(BATCH))
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 1


def test_wgan_penalty_is_weighted_into_critic_loss():
    gan = small_gan("wgan", n_critic=1, gp_weight=10.0)
    logs = gan.train_step(real_images(BATCH, 1))
    assert float(logs["d_loss"]) == pytest.approx(
        -float(logs["wasserstein"]) + 10.0 * float(logs["gradient_penalty"]), rel=1e-4)
    assert float(logs["gradient_penalty"]) > 0


def test_optimizer_defaults_follow_the_papers():
    dcgan, wgan = small_gan("dcgan"), small_gan("wgan")
    for opt in (dcgan.d_optimizer, dcgan.g_optimizer):
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2) == pytest.approx((2e-4, 0.5, 0.999))
    for opt in (wgan.d_optimizer, wgan.g_optimizer):
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2) == pytest.approx((1e-4, 0.0, 0.9))
    assert wgan.n_critic == 5 and wgan.gp_weight == 10.0


@pytest.mark.parametrize("model", ["dcgan", "wgan"])
def test_fit_logs_only_gan_metrics(model):
    gan = small_gan(model, n_critic=1)
    shape = (BATCH,) if model == "dcgan" else (BATCH, 1)
    data = tf.data.Dataset.from_tensors(real_images(*shape)).repeat(2)
    history = gan.fit(data, epochs=1, verbose=0, shuffle=False)
    assert "loss" not in history.history
    assert set(history.history) == set(gan.metric_names)


def test_ema_generator_averages_weights_after_each_generator_update():
    gan = small_gan("dcgan", ema_decay=0.9)
    assert gan.sampling_generator is gan.ema_generator
    before = [w.numpy().copy() for w in gan.ema_generator.weights]
    np.testing.assert_array_equal(before[0], gan.generator.weights[0].numpy())
    gan.g_optimizer.iterations.assign(99)  # past the warm-up: min(0.9, 101/110) = 0.9
    gan.train_step(real_images(BATCH))
    for average, old, new in zip(gan.ema_generator.weights, before, gan.generator.weights):
        np.testing.assert_allclose(average.numpy(), 0.9 * old + 0.1 * new.numpy(),
                                   rtol=1e-5, atol=1e-7)


def test_ema_decay_warms_up_over_the_first_steps():
    gan = small_gan("dcgan", ema_decay=0.999)
    before = [w.numpy().copy() for w in gan.ema_generator.weights]
    gan.train_step(real_images(BATCH))  # step t = 1: decay min(0.999, 2/11)
    decay = 2 / 11
    for average, old, new in zip(gan.ema_generator.weights, before, gan.generator.weights):
        np.testing.assert_allclose(average.numpy(), decay * old + (1 - decay) * new.numpy(),
                                   rtol=1e-5, atol=1e-7)
    assert not np.array_equal(gan.ema_generator.weights[0].numpy(),
                              gan.generator.weights[0].numpy())


def test_ema_by_default_and_off_at_zero():
    assert small_gan("dcgan").ema_decay == 0.999
    gan = small_gan("dcgan", ema_decay=0.0)
    assert gan.ema_generator is None and gan.sampling_generator is gan.generator


@pytest.mark.parametrize("model, batch_shape", [("dcgan", (BATCH,)), ("wgan", (BATCH, 2))])
def test_train_step_with_diffaugment(model, batch_shape):
    gan = small_gan(model, n_critic=2, diffaugment="color,translation,cutout")
    assert gan.diffaugment == ("color", "translation", "cutout")
    g_before = weights_of(gan.generator)
    logs = gan.train_step(real_images(*batch_shape))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert changed(g_before, gan.generator)


def counting_generator(generator, calls):
    """``generator`` with a pass counter: a Lambda appends to ``calls`` each (eager) call."""
    latents = keras.Input((generator.input_shape[-1],))
    counted = keras.layers.Lambda(lambda images: calls.append(1) or images)
    model = keras.Model(latents, counted(generator(latents)))
    calls.clear()  # building the model traced the Lambda once
    return model


@pytest.mark.parametrize("model, batch_shape, generator_passes", [
    ("dcgan", (BATCH,), 1),         # the D and G updates share one batch of fakes
    ("wgan", (BATCH, 2), 3),        # fresh fakes for each of 2 critic updates and for G
    ("wgan_clip", (BATCH, 2), 3),
    ("sngan", (BATCH, 2), 3),
])
def test_train_step_runs_the_generator_only_as_often_as_the_algorithm_needs(
        model, batch_shape, generator_passes):
    gan = small_gan(model, n_critic=2)
    calls = []
    gan.generator = counting_generator(gan.generator, calls)
    gan.train_step(real_images(*batch_shape))
    assert len(calls) == generator_passes


@pytest.mark.parametrize("model, precision", [
    ("dcgan", "bfloat16"), ("wgan", "bfloat16"),
    pytest.param("wgan", "float16", marks=pytest.mark.slow),  # the suite's time budget
    pytest.param("dcgan", "float16", marks=pytest.mark.slow)])
def test_mixed_precision_step_stays_finite_with_float32_outputs(model, precision):
    gan = small_gan(model, n_critic=1, mixed_precision=precision)
    assert gan.generator.get_layer("up1").compute_dtype == precision
    assert gan.generator.get_layer("up1").kernel.dtype == "float32"  # float32 weights
    logs = gan.train_step(real_images(BATCH, 1) if model == "wgan" else real_images(BATCH))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(np.isfinite(w.numpy()).all() for w in gan.generator.trainable_weights)
    images = gan.generate(2)
    assert images.dtype == "float32" and np.all(np.abs(images) <= 1)
    assert gan.discriminator(images).dtype == "float32"
    scaled = isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "float16")  # loss scaling only where float16 needs it


def test_float32_is_the_default_and_leaves_the_global_policy_alone():
    gan = small_gan("dcgan", mixed_precision="bfloat16")
    assert gan.generator.get_layer("up1").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    assert small_gan("dcgan").generator.get_layer("up1").compute_dtype == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dcgan", "wgan"])
def test_xla_compiled_steps_train_and_stay_finite(model):
    # XLA draws other random numbers than TensorFlow's kernels, so runs differ; the
    # gradients themselves are compared in test_losses.
    gan = small_gan(model, n_critic=1, jit_compile=True)
    data = tf.data.Dataset.from_tensors(real_images(BATCH) if model == "dcgan"
                                        else real_images(BATCH, 1)).repeat()
    g_before = weights_of(gan.generator)
    history = gan.fit(data, epochs=1, steps_per_epoch=2, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in history.values())
    assert changed(g_before, gan.generator)


@pytest.mark.slow  # the default suite's time budget
def test_a_float16_step_the_loss_scale_skips_still_counts_as_a_step():
    gan = small_gan("dcgan", mixed_precision="float16")
    gan.g_optimizer.dynamic_scale.assign(2.0 ** 120)  # the scaled gradients overflow
    gan.train_step(real_images(BATCH))
    assert int(gan.g_optimizer.iterations) == 0  # the update was skipped...
    assert gan.generator_steps == 1  # ...but the batch was consumed


def test_wgan_clip_keeps_every_critic_weight_within_the_clip_value():
    gan = small_gan("wgan_clip", n_critic=2, clip_value=0.01)
    gan.train_step(real_images(BATCH, 2))
    weights = np.concatenate([w.numpy().ravel() for w in gan.discriminator.trainable_weights])
    assert np.abs(weights).max() <= 0.01 + 1e-7
    assert np.mean(np.abs(weights) > 0.0099) > 0.5  # N(0, 0.02) weights: most sit at the bound
    assert int(gan.d_optimizer.iterations) == 2 and int(gan.g_optimizer.iterations) == 1


def test_wgan_clip_reports_the_wasserstein_estimate_as_the_negated_critic_loss():
    logs = small_gan("wgan_clip", n_critic=1).train_step(real_images(BATCH, 1))
    assert float(logs["wasserstein"]) == pytest.approx(-float(logs["d_loss"]))


def test_sngan_discriminator_is_spectrally_normalised_without_batch_norm():
    gan = small_gan("sngan")
    layers = gan.discriminator.layers
    wrapped = [l for l in layers if isinstance(l, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 5 and all(isinstance(l.layer, keras.layers.Conv2D) for l in wrapped)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in layers)


def test_sngan_hinge_loss_of_a_step_matches_its_scores():
    gan = small_gan("sngan", n_critic=1)
    logs = gan.train_step(real_images(BATCH, 1))
    # At the start every score is well inside both margins (|D| < 1), so the hinge loss
    # is 1 - mean D(x) + 1 + mean D(G(z)) exactly.
    assert abs(float(logs["real_score"])) < 1 and abs(float(logs["fake_score"])) < 1
    assert float(logs["d_loss"]) == pytest.approx(
        2 - float(logs["real_score"]) + float(logs["fake_score"]), rel=1e-5)


def test_variant_defaults_follow_their_papers():
    clip, sn = small_gan("wgan_clip"), small_gan("sngan")
    assert isinstance(clip.d_optimizer, keras.optimizers.RMSprop)
    assert float(clip.d_optimizer.learning_rate) == pytest.approx(5e-5)
    assert clip.n_critic == 5 and clip.clip_value == 0.01
    for opt in (sn.d_optimizer, sn.g_optimizer):
        assert isinstance(opt, keras.optimizers.Adam)
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2) == pytest.approx((2e-4, 0.5, 0.999))
    assert sn.n_critic == 1


def test_build_gan_takes_settings_by_name_as_train_does():
    gan = build_gan(model="wgan", latent_dim=16, gp_weight=5.0)
    assert type(gan).__name__ == "WGANGP" and gan.latent_dim == 16 and gan.gp_weight == 5.0
    from_config = build_gan(TrainConfig(model="wgan"), latent_dim=8)  # settings over a config
    assert type(from_config).__name__ == "WGANGP" and from_config.latent_dim == 8
    for wrong in ({"model": "wgan"}, "dcgan"):
        with pytest.raises(TypeError, match=f"^build_gan takes a TrainConfig or settings by "
                                            f"name, not {type(wrong).__name__}"):
            build_gan(wrong)
    with pytest.raises(anime_gan.ConfigError, match="modle: no such setting"):
        build_gan(modle="wgan")
    mirrored = build_gan(model="dcgan", latent_dim=8, strategy="mirrored")  # the setting
    assert type(mirrored.distribute_strategy).__name__ == "MirroredStrategy"
    with pytest.raises(anime_gan.ConfigError, match="--strategy=bogus: must be one of"):
        build_gan(strategy="bogus")

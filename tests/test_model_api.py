"""The GAN classes and sampling helpers as a Keras user meets them: the arguments they
check, what fit refuses to train on, and the Keras methods a GAN does not have."""

import logging
import os
import pathlib
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import anime_gan
from anime_gan import (DCGAN, SNGAN, WGANGP, TrainConfig, WGANClip, augment, build_critic,
                       build_discriminator, build_generator, build_sn_discriminator)
from anime_gan.display import grid_pixels
from anime_gan.run_folder import RunFolder
from anime_gan.sampling import interpolation_grid, sample, slerp

LATENT = 8


@pytest.fixture(scope="module")
def generator():
    return build_generator(LATENT)


def compiled(gan):
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(1e-4))
    return gan


def pixels(*shape, low=-1.0, high=1.0, dtype="float32"):
    return np.random.default_rng(0).uniform(low, high, shape + (64, 64, 3)).astype(dtype)


def test_diffaugment_takes_the_flags_string_or_a_sequence_of_names(generator):
    disc = build_discriminator()
    assert DCGAN(generator, disc, diffaugment="color,cutout").diffaugment == ("color", "cutout")
    assert DCGAN(generator, disc, diffaugment=["translation"]).diffaugment == ("translation",)
    assert DCGAN(generator, disc, diffaugment=None).diffaugment == ()
    with pytest.raises(ValueError, match=r"unknown DiffAugment policy \['colour'\]"):
        DCGAN(generator, disc, diffaugment=("colour",))
    with pytest.raises(TypeError, match="diffaugment=True: give the policy's names"):
        DCGAN(generator, disc, diffaugment=True)
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'colour'"):
        augment.diff_augment(tf.zeros((1, 8, 8, 3)), ("colour",), keras.random.SeedGenerator(0))


def test_a_critic_unlike_its_papers_is_named_in_a_warning(generator, caplog):
    with caplog.at_level(logging.WARNING, logger="anime_gan"):
        WGANGP(generator, build_critic())
        SNGAN(generator, build_sn_discriminator())
        WGANClip(generator, build_discriminator())  # the original WGAN kept batch norm
        assert caplog.text == ""
        WGANGP(generator, build_discriminator())
        SNGAN(generator, build_discriminator())
    assert [record.getMessage().split(",")[0] for record in caplog.records] == [
        "WGANGP: the critic has batch normalization (down2_bn",
        "SNGAN: the discriminator has no spectral normalization"]
    assert "anime_gan.build_critic() has none" in caplog.records[0].getMessage()
    assert "anime_gan.build_sn_discriminator() has it" in caplog.records[1].getMessage()

    class Block(keras.layers.Layer):  # a layer of the user's own holding both
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.conv = keras.layers.SpectralNormalization(keras.layers.Conv2D(8, 4, 2))
            self.norm = keras.layers.BatchNormalization(name="block_bn")

        def call(self, images):
            return self.norm(self.conv(images))

    images = keras.Input((64, 64, 3))
    blocks = keras.Model(images, keras.layers.Dense(1)(keras.layers.Flatten()(Block()(images))))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="anime_gan"):
        SNGAN(generator, blocks)
        WGANGP(generator, blocks)
    assert [record.getMessage()[:53] for record in caplog.records] == [
        "WGANGP: the critic has batch normalization (block_bn)"]


def test_each_class_defaults_to_its_papers_critic_updates(generator):
    assert SNGAN(generator, build_sn_discriminator()).n_critic == 1
    assert WGANGP(generator, build_critic()).n_critic == 5
    assert WGANClip(generator, build_discriminator()).n_critic == 5


@pytest.mark.parametrize("make, error, message", [
    (lambda g: DCGAN(g, build_discriminator(128)), ValueError,
     r"the generator makes images of shape \(64, 64, 3\), but the discriminator takes "
     r"\(128, 128, 3\)"),
    (lambda g: DCGAN(build_discriminator(), g), ValueError,
     "^the generator given takes images and the discriminator makes them: they are swapped; "
     "give the generator first, then the discriminator$"),
    (lambda g: DCGAN(g, build_discriminator(), ema_decay=1.5), ValueError,
     r"ema_decay=1.5: must be in \[0, 1\)"),
    (lambda g: WGANGP(g, build_critic(), n_critic=0), ValueError,
     "WGANGP: n_critic=0 must be a whole number, at least 1"),
    (lambda g: WGANGP(g, build_critic(), n_critic=2.0), ValueError, "n_critic=2.0 must be"),
    (lambda g: WGANGP(g, build_critic(), gp_weight=-10.0), ValueError,
     "WGANGP: gp_weight=-10.0 must be a finite number at least 0"),
    (lambda g: WGANGP(g, build_critic(), gp_weight="10"), ValueError, "gp_weight='10' must"),
    (lambda g: WGANClip(g, build_discriminator(), clip_value=-1.0), ValueError,
     "WGANClip: clip_value=-1.0 must be a finite number above 0"),
    (lambda g: WGANClip(g, build_discriminator(), clip_value=0), ValueError,
     "clip_value=0 must be a finite number above 0"),
    (lambda g: WGANGP(g, build_critic(), gp_weight=float("inf")), ValueError,
     "gp_weight=inf must be a finite number"),
    (lambda g: WGANClip(g, build_discriminator(), clip_value=float("nan")), ValueError,
     "clip_value=nan must"),
    (lambda g: DCGAN("generator.keras", build_discriminator()), TypeError,
     "generator: a Keras model"),
])
def test_constructors_refuse_what_cannot_train(generator, make, error, message):
    with pytest.raises(error, match=message):
        make(generator)


def test_a_discriminator_taking_any_image_size_fits_the_generator(generator):
    inputs = keras.Input((None, None, 3))
    scores = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(inputs))
    assert DCGAN(generator, keras.Model(inputs, scores)).discriminator.input_shape == (
        None, None, None, 3)


def test_compile_names_the_two_optimizers_it_takes(generator):
    gan = DCGAN(generator, build_discriminator())
    with pytest.raises(TypeError, match="DCGAN.compile takes d_optimizer= and g_optimizer="):
        gan.compile(optimizer="adam")


def test_compile_takes_optimizer_names_and_refuses_one_optimizer_for_both(generator):
    gan = DCGAN(generator, build_discriminator())
    gan.compile(d_optimizer="adam", g_optimizer="rmsprop")
    assert isinstance(gan.d_optimizer, keras.optimizers.Adam)
    assert isinstance(gan.g_optimizer, keras.optimizers.RMSprop)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="d_optimizer and g_optimizer are one optimizer"):
        gan.compile(d_optimizer=shared, g_optimizer=shared)


def trainable_weights(gan):
    return [w.numpy().copy() for w in gan.generator.trainable_weights
            + gan.discriminator.trainable_weights]


def unchanged(before, gan):
    return all(np.array_equal(b, a) for b, a in zip(before, trainable_weights(gan)))


def test_fit_refuses_integer_pixels_before_any_update(generator):
    gan = compiled(DCGAN(generator, build_discriminator(), seed=0))
    batches = tf.data.Dataset.from_tensor_slices(pixels(8, high=255, dtype="uint8")).batch(4)
    with pytest.raises(ValueError, match="DCGAN.fit takes float images in .-1, 1.; got uint8"):
        gan.fit(batches, verbose=0)
    assert int(gan.d_optimizer.iterations) == 0


@pytest.mark.parametrize("model", ["dcgan", "wgan"])
def test_fit_refuses_float_pixels_off_the_networks_scale_before_any_update(generator, model):
    """keras.utils.image_dataset_from_directory gives float pixels of 0..255."""
    if model == "dcgan":
        gan, shape = DCGAN(generator, build_discriminator(), seed=0), (8,)
    else:
        gan, shape = WGANGP(generator, build_critic(), n_critic=2, seed=0), (8, 2)
    compiled(gan)
    before = trainable_weights(gan)
    # Every state a step changes: batch-norm statistics, the seed, the moving average.
    states = [v.numpy().copy() for v in gan.weights]
    images = pixels(*shape, low=0, high=255)
    images[0, ...] = 255.0
    with pytest.raises(ValueError, match=r"^\w+\.fit takes real images in \[-1, 1\] .*; this "
                                         r"batch reaches 255$"):
        gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(4), verbose=0)
    assert unchanged(before, gan)
    changed = [v.path for v, b in zip(gan.weights, states) if not np.array_equal(v.numpy(), b)]
    assert changed == []
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 0
    assert gan.generator_steps == 0


def test_fit_on_a_tf_data_pipeline_keeps_its_order_without_kerass_shuffle_warning(generator):
    gan = compiled(DCGAN(generator, build_discriminator(), seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras: "`shuffle=True` was passed, but will be ignored"
        gan.fit(tf.data.Dataset.from_tensor_slices(pixels(4)).batch(4), verbose=0)
    assert int(gan.g_optimizer.iterations) == 1


def test_fit_on_make_dataset_takes_each_batch_once_without_kerass_ran_out_warning(
        generator, image_folder):
    """The README's WGAN-GP example: make_dataset's batches, one epoch."""
    gan = compiled(WGANGP(generator, build_critic(), n_critic=3, seed=0))
    batches, count = anime_gan.make_dataset(batch_size=4, batches_per_step=3,
                                            data_dir=image_folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras: "Your input ran out of data"
        gan.fit(batches, epochs=2, verbose=0)
    assert count == 24 and int(gan.g_optimizer.iterations) == 2 * 2  # 2 steps an epoch


def test_fit_on_keras_image_dataset_from_directory_asks_for_the_scale_then_trains(
        generator, tmp_path):
    """What a Keras user tries first: (images, labels) batches of float 0..255 pixels."""
    rng = np.random.default_rng(0)
    for i in range(8):
        path = tmp_path / f"class{i % 2}" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        keras.utils.save_img(path, rng.integers(0, 256, (64, 64, 3)).astype("uint8"))
    batches = keras.utils.image_dataset_from_directory(tmp_path, image_size=(64, 64),
                                                       batch_size=4, seed=0)
    gan = compiled(DCGAN(generator, build_discriminator(), seed=0))
    with pytest.raises(ValueError, match=r"give images / 127.5 - 1 for 0..255 pixels"):
        gan.fit(batches, verbose=0)
    before = int(gan.g_optimizer.iterations)
    gan.fit(batches.map(lambda x, y: (x / 127.5 - 1, y)), verbose=0)
    assert int(gan.g_optimizer.iterations) == before + 2  # 8 images, batches of 4


def test_the_scale_check_holds_with_keras_defaults_eagerly_and_batch_by_batch(generator):
    """compile's jit_compile stays off (Keras's "auto" turns XLA on with a GPU, and XLA
    skips the check)."""
    gan = compiled(DCGAN(generator, build_discriminator(), seed=0))
    assert gan.jit_compile is False
    images = pixels(4, low=0, high=200)
    images[0, 0, 0, 0] = 200.0
    with pytest.raises(ValueError, match="this batch reaches 200$"):
        gan.train_on_batch(images)
    gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam(),
                run_eagerly=True)
    with pytest.raises(ValueError, match=r"^DCGAN.fit takes real images in \[-1, 1\] .*; "
                                         r"this batch reaches 200\.?0*$"):
        gan.fit(images, batch_size=4, verbose=0)


# The DCGAN's case (13 s) is slow: the next test checks its refusal after a fit by default.
@pytest.mark.parametrize("model", [pytest.param("dcgan", marks=pytest.mark.slow), "wgan"])
def test_fit_refuses_misshaped_batches_in_one_line_before_and_after_a_fit(generator, model):
    """Keras traces the step again, with looser shapes, for a batch shaped unlike the last
    one: the shape is then checked inside the step, with the same kind of message."""
    if model == "dcgan":
        gan, good = DCGAN(generator, build_discriminator(), seed=0), pixels(8)
        wanted, after = (r"DCGAN.fit takes real images shaped \[N, 64, 64, 3\], as the "
                         r"discriminator does; got "), ""
    else:
        gan, good = WGANGP(generator, build_critic(), n_critic=2, seed=0), pixels(4, 2)
        wanted = r"WGANGP with n_critic=2 takes 2 real batches a step, shaped \[N, 2, H, W, 3\]; got "
        after = (r"\. make_dataset\(\.\.\., batches_per_step=2\) gives such batches .*; "
                 r"the critic takes images shaped \[64, 64, 3\]")
    compiled(gan)
    fresh_bad = pixels(8)[:, :32, :32] if model == "dcgan" else pixels(8)
    with pytest.raises(ValueError, match=f"^{wanted}" + r"\(4, (32, 32|64, 64), 3\)" + after + "$"):
        gan.fit(fresh_bad, batch_size=4, verbose=0)
    gan.fit(good, batch_size=4, verbose=0)
    steps = int(gan.g_optimizer.iterations)
    before = trainable_weights(gan)
    misshaped = [pixels(4, 2), pixels(8)[..., :1], pixels(2, 4)]
    if model == "wgan":
        misshaped = [pixels(8), pixels(4, 2)[..., :1], pixels(2, 4)]
    for images in misshaped:
        shape = (2,) + images.shape[1:] if images.shape[0] == 2 else (4,) + images.shape[1:]
        shown = re.escape(str(shape))
        with pytest.raises(ValueError, match=f"^{wanted}{shown}{after}$"):
            gan.fit(images, batch_size=4 if images.shape[0] > 2 else 2, verbose=0)
    assert unchanged(before, gan) and gan.generator_steps == steps
    assert int(gan.g_optimizer.iterations) == steps
    assert int(gan.d_optimizer.iterations) == steps * (1 if model == "dcgan" else 2)
    gan.fit(good, batch_size=4, verbose=0)
    assert int(gan.g_optimizer.iterations) == 2 * steps == 2 * len(good) // 4


@pytest.mark.parametrize("jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_misshaped_batch_after_a_good_fit_is_refused_in_one_line(generator, jit_compile):
    """The usual order: a fit on good images, then one on images of another size or
    channel count (NumPy arrays, train_on_batch, a dataset).  Each is refused before
    any update, in one line, also under XLA; the model trains on afterwards."""
    gan = DCGAN(generator, build_discriminator(), seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4),
                g_optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
    gan.fit(pixels(8), batch_size=4, verbose=0)
    before = trainable_weights(gan)
    wanted = r"^DCGAN.fit takes real images shaped \[N, 64, 64, 3\], as the discriminator does; got "
    with pytest.raises(ValueError, match=wanted + r"\((4|None), 32, 32, 3\)$"):
        gan.fit(pixels(8)[:, :32, :32], batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=wanted + r"\((4|None), 64, 64, 1\)$"):
        gan.train_on_batch(pixels(4)[..., :1])
    with pytest.raises(ValueError, match=wanted + r"\((2|None), 2, 64, 64, 3\)$"):
        gan.fit(tf.data.Dataset.from_tensor_slices(pixels(4, 2)).batch(2), verbose=0)
    assert unchanged(before, gan) and int(gan.g_optimizer.iterations) == 2
    gan.fit(pixels(4), batch_size=4, verbose=0)
    assert int(gan.g_optimizer.iterations) == 3


def test_networks_given_as_layers_and_counts_as_numpy_integers_are_taken():
    generator = build_generator(latent_dim=np.int64(8))

    class Critic(keras.layers.Layer):  # a layer, not a model
        def call(self, images):
            return keras.ops.mean(images, axis=(1, 2, 3))[:, None]

    gan = WGANGP(generator, Critic(), n_critic=np.int64(2))
    assert gan.n_critic == 2 and gan.latent_dim == 8


def test_fit_takes_a_resampling_filters_small_overshoot_and_refuses_nan(generator):
    gan = compiled(DCGAN(generator, build_discriminator(), seed=0))
    images = pixels(4)
    images[0, 0, 0] = 1.1
    gan.fit(images, batch_size=4, verbose=0)
    assert int(gan.d_optimizer.iterations) == 1
    before = trainable_weights(gan)
    images[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="this batch reaches nan"):
        gan.fit(images, batch_size=4, verbose=0)
    assert unchanged(before, gan)


def test_a_gan_points_save_and_evaluate_to_what_it_offers(generator, tmp_path):
    gan = compiled(DCGAN(generator, build_discriminator()))
    with pytest.raises(NotImplementedError, match=r"gan.generator.save\('generator.keras'\)"):
        gan.save(tmp_path / "gan.keras")
    with pytest.raises(NotImplementedError, match="evaluate_run"):
        gan.evaluate(pixels(4))
    gan.save_weights(tmp_path / "gan.weights.h5")  # what it offers works
    assert (tmp_path / "gan.weights.h5").is_file()


@pytest.mark.parametrize("call, message", [
    (lambda g: sample(g, 0), "sample: num_images=0 must be a whole number, at least 1"),
    (lambda g: sample(g, 2.5), "sample: num_images=2.5 must be"),
    (lambda g: sample(g, 2, seed=None), r"sample: seed=None must be a whole number in \[0, "),
    (lambda g: sample(g, 2, seed=2**31), r"seed=2147483648 must be a whole number in \[0, "
                                         r"2147483647\]"),
    (lambda g: sample(g, 2, seed=-1), "seed=-1 must be"),
    (lambda g: interpolation_grid(g, rows=0), "interpolation_grid: rows=0 must be"),
    (lambda g: interpolation_grid(g, steps=True), "steps=True must be"),
    (lambda g: interpolation_grid(g, steps=1),
     r"^interpolation_grid: steps=1 must be a whole number, at least 2$"),
    (lambda g: anime_gan.make_dataset(batch_size=0), "make_dataset: batch_size=0 must be"),
    (lambda g: anime_gan.generate_run("no-run", 0), "generate_run: num_images=0 must be"),
    (lambda g: build_generator(latent_dim=0),
     "build_generator: latent_dim=0 must be a whole number, at least 1"),
    (lambda g: build_generator(image_size="64"), r"got '64'"),
])
def test_helpers_refuse_bad_arguments_in_one_line(generator, call, message):
    with pytest.raises(ValueError, match=message):
        call(generator)


def test_sample_names_load_generator_when_given_a_run_folder(tmp_path):
    with pytest.raises(TypeError, match=r"sample takes a generator \(a Keras model\), not "
                                        r"PosixPath: load_generator\("):
        sample(tmp_path, 2)


@pytest.mark.parametrize("call, message", [
    (lambda g, tmp: anime_gan.train("runs/x"),
     r"^train takes a TrainConfig or settings by name, not str; to continue the run there: "
     r"train\(RunFolder\('runs/x'\).read_config\(\), epochs=\.\.\.\)$"),
    (lambda g, tmp: anime_gan.train({"model": "dcgan"}), r"not dict$"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run", callbacks=[print]),
     r"^train: callbacks are Keras callbacks, not <built-in function print>; wrap a function "
     r"in keras.callbacks.LambdaCallback"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run",
                                    callbacks=lambda epoch, logs: None),
     r"^train: callbacks are Keras callbacks, not <function .*<lambda> at .*>; wrap a function"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run", callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate / 2)]),
     r"^train: keras.callbacks.LearningRateScheduler steers a model's one optimizer, and a "
     r"GAN has two: set the learning rates in a callback of your own \(self.model.g_optimizer"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run",
                                    callbacks=keras.callbacks.ReduceLROnPlateau("g_loss")),
     r"^train: keras.callbacks.ReduceLROnPlateau steers a model's one optimizer"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run", callbacks=[
        keras.callbacks.TerminateOnNaN(), keras.callbacks.CallbackList(
            [keras.callbacks.History(), keras.callbacks.ReduceLROnPlateau("g_loss")])]),
     r"^train: keras.callbacks.ReduceLROnPlateau steers a model's one optimizer"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run",
                                    callbacks=(c for c in [keras.callbacks.TerminateOnNaN(),
                                                           print])),
     r"^train: callbacks are Keras callbacks, not <built-in function print>"),
    (lambda g, tmp: anime_gan.train(model="dcgan", output_dir=tmp / "run", live="yes"),
     r"^train: live='yes' must be True, False or None \(in a notebook\)$"),
    (lambda g, tmp: anime_gan.export_generator(str(tmp), tmp / "export"),
     r"^export_generator takes a generator \(a Keras model\), not str: load_generator\("),
    (lambda g, tmp: anime_gan.load_generator(g),
     r"^load_generator takes a run folder or a .keras file, not Functional \(a Keras model "
     r"is a generator already\)$"),
    (lambda g, tmp: anime_gan.load_generator(None), r"not NoneType$"),
])
def test_library_calls_given_the_wrong_kind_of_argument_say_so_in_one_line(
        generator, tmp_path, call, message):
    with pytest.raises(TypeError, match=message):
        call(generator, tmp_path)
    assert os.listdir(tmp_path) == []  # refused before anything was written


@pytest.mark.parametrize("mode, call", [("generate", "generate_run({run!r}, num_images=64)"),
                                        ("export", "export_run({run!r})"),
                                        ("evaluate", "evaluate_run({run!r}, data_dir=...)")])
def test_train_given_another_mode_names_its_call_instead_of_training(tmp_path, mode, call):
    run = str(tmp_path / "run")
    for given, named in ((run, run), (None, "RUN")):
        with pytest.raises(anime_gan.ConfigError) as refused:
            anime_gan.train(mode=mode, output_dir=given)
        assert str(refused.value) == (f"train: mode='{mode}' is not training; call "
                                      f"anime_gan.{call.format(run=named)} instead")
    config = anime_gan.TrainConfig(mode=mode, output_dir=run)
    with pytest.raises(anime_gan.ConfigError, match=rf"^train: mode='{mode}' is not training"):
        anime_gan.train(config)
    assert os.listdir(tmp_path) == []  # refused before anything was written


def test_train_takes_its_callbacks_as_one_a_list_a_tuple_or_a_generator():
    from anime_gan.train_arguments import checked_arguments

    stop = keras.callbacks.TerminateOnNaN()
    for given in (stop, [stop], (stop,), (c for c in [stop])):
        assert checked_arguments(None, given, None)[1] == [stop]
    assert checked_arguments(None, None, np.True_)[1] == []


def test_train_warns_of_the_other_modes_settings(tmp_path, caplog, monkeypatch):
    from anime_gan import training

    def stop_before_training(config, *args):
        raise anime_gan.ConfigError("stopped before training")

    monkeypatch.setattr(training, "with_the_runs_data", stop_before_training)
    with pytest.raises(anime_gan.ConfigError, match="stopped before training"):
        anime_gan.train(output_dir=str(tmp_path / "run"), num_images=8, num_samples=100,
                        epochs=1)
    assert ("train: num_images is for generate_run (--mode=generate), not training; ignored"
            in caplog.text)
    assert ("train: num_samples is for evaluate_run (--mode=evaluate), not training; ignored"
            in caplog.text)
    assert "epochs" not in caplog.text


def test_sample_takes_numpy_integers(generator):
    np.testing.assert_array_equal(sample(generator, np.int64(2), seed=np.int32(3)),
                                  sample(generator, 2, seed=3))


def test_slerp_at_one_fraction_is_one_vector_and_opposite_ends_stay_finite():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(slerp(a, b, 0.5), [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    assert slerp(a, b, [0.5]).shape == (1, 2)
    path = slerp(a, -a, [0.0, 0.25, 1.0])  # no single great circle: a straight line
    np.testing.assert_allclose(path, [[1, 0], [0.5, 0], [-1, 0]], atol=1e-7)


def test_show_grid_warns_when_float_images_are_not_on_the_networks_scale(caplog):
    with caplog.at_level(logging.WARNING, logger="anime_gan.display"):
        assert (grid_pixels(np.full((1, 4, 4, 3), 200.0)) == 255).all()
    assert "on the networks' [-1, 1] scale, and these reach 200" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="anime_gan.display"):
        grid_pixels(np.full((1, 4, 4, 3), -1.0))
    assert caplog.text == ""


def test_show_grid_warns_of_clipped_integers_and_nan_in_one_line(caplog):
    images = np.full((1, 2, 2, 3), 300, np.int64)
    images[0, 0, 0] = -5
    with caplog.at_level(logging.WARNING, logger="anime_gan.display"):
        pixels = grid_pixels(images)
    assert pixels.dtype == np.uint8 and pixels[0, 0, 0, 0] == 0 and pixels[0, 1, 1, 0] == 255
    assert "these reach -5..300: values outside are clipped" in caplog.text
    caplog.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's own All-NaN RuntimeWarning stays out
        with caplog.at_level(logging.WARNING, logger="anime_gan.display"):
            grid_pixels(np.full((1, 2, 2, 3), np.nan, np.float32))
    assert "these reach nan" in caplog.text


@pytest.mark.parametrize("not_images", ["runs/a", "generator"])
def test_show_grid_refuses_a_path_or_a_model_by_name(not_images, generator):
    given = generator if not_images == "generator" else not_images
    with pytest.raises(TypeError, match=r"show_grid takes images, not (str|Functional|Sequential)"):
        anime_gan.show_grid(given)
    with pytest.raises(TypeError, match=r"show_grid takes images \(arrays of numbers\), not "
                                        r"(strings|Python objects)$"):
        anime_gan.show_grid([given, given])


def test_show_grid_warns_of_0_to_1_floats_and_refuses_impossible_rows(caplog):
    with caplog.at_level(logging.WARNING, logger="anime_gan.display"):
        grid_pixels(np.full((1, 4, 4, 3), 0.5))
    assert "are all in [0, 1], so they show pale: give images * 2 - 1" in caplog.text
    for rows in (0, 5, 1.5):
        with pytest.raises(ValueError, match=f"show_grid: rows={rows} must be a whole number "
                                             r"in \[1, 4\]"):
            anime_gan.show_grid(np.zeros((4, 8, 8, 3), np.uint8), rows=rows)


def test_sampling_helpers_take_the_gan_train_returns(generator):
    gan = DCGAN(generator, build_discriminator(), ema_decay=0.9)
    gan.ema_generator.set_weights([w * 20 for w in generator.get_weights()])
    np.testing.assert_array_equal(sample(gan, 3, seed=1), sample(gan.ema_generator, 3, seed=1))
    assert not np.array_equal(sample(gan, 3, seed=1), sample(generator, 3, seed=1))
    assert interpolation_grid(gan, rows=2, steps=3).shape == (2 * 64, 3 * 64, 3)


def test_settings_take_paths_as_pathlib_paths(tmp_path):
    config = TrainConfig.from_settings(data_dir=tmp_path / "faces", output_dir=pathlib.Path("r"))
    assert (config.data_dir, config.output_dir) == (str(tmp_path / "faces"), "r")


def test_the_sn_discriminator_is_part_of_the_package_api():
    assert "build_sn_discriminator" in anime_gan.__all__
    assert anime_gan.build_sn_discriminator is build_sn_discriminator


@pytest.mark.parametrize("settings, unused", [
    (dict(dataset="tfds:anime_faces", max_image_pixels=1000),
     "--max_image_pixels=1000 (it checks the files of a --data_dir)"),
    (dict(data_dir="faces", tfds_data_dir="tfds"),
     "--tfds_data_dir=tfds (it is for --dataset=tfds:...)"),
    (dict(cache_dir="cache"), "--cache_dir=cache (the built-in faces are made in memory)"),
    (dict(cache_dir="cache", tfds_data_dir="tfds"),
     "--tfds_data_dir=tfds (it is for --dataset=tfds:...); --cache_dir=cache (the built-in "
     "faces are made in memory)"),
    (dict(data_dir="faces", cache_dir="cache", max_image_pixels=1000), None),
    (dict(dataset="tfds:anime_faces", tfds_data_dir="tfds", cache_dir="cache"), None),
])
def test_train_names_and_drops_the_data_settings_its_data_does_not_read(
        tmp_path, monkeypatch, caplog, settings, unused):
    """Dropped, not recorded in config.json: a continued run would use them on other data
    (--max_image_pixels is a run setting: kept, and warned of for a new run only)."""
    from anime_gan import training

    monkeypatch.chdir(tmp_path)
    (tmp_path / "faces").mkdir()
    monkeypatch.setattr(training, "_train", lambda config, *args: config)  # no training
    config = anime_gan.train(model="dcgan", output_dir="run", **settings)
    default = TrainConfig(output_dir="run")
    for name in ("max_image_pixels", "tfds_data_dir", "cache_dir"):
        given = settings.get(name, getattr(default, name))
        dropped = unused is not None and f"--{name}=" in unused and name != "max_image_pixels"
        assert getattr(config, name) == (getattr(default, name) if dropped else given)
    warnings = [m for m in caplog.messages if m.startswith("Not used with this data")]
    assert warnings == ([f"Not used with this data: {unused}"] if unused else [])


def test_a_continued_run_is_not_warned_of_its_own_max_image_pixels_on_a_tfds_data_set(
        tmp_path, monkeypatch, caplog):
    """The run's own --max_image_pixels, left out, is no setting given for the TFDS data."""
    from anime_gan import training

    monkeypatch.chdir(tmp_path)
    (tmp_path / "faces").mkdir()
    RunFolder("run").write_config(TrainConfig(data_dir="faces", max_image_pixels=1000,
                                              output_dir="run"))
    open(RunFolder("run").history, "w").close()  # it kept an epoch: a run to continue
    monkeypatch.setattr(training, "_train", lambda config, *args: config)  # no training
    config = anime_gan.train(output_dir="run", dataset="tfds:anime_faces", epochs=2)
    assert config.max_image_pixels == 1000 and config.dataset == "tfds:anime_faces"
    assert not [m for m in caplog.messages if m.startswith("Not used with this data")]


def test_train_shows_its_messages_in_a_script_that_set_up_no_logging(tmp_path, monkeypatch):
    from anime_gan import logs, training

    calls = []
    monkeypatch.setattr(logs, "setup_for_a_script", lambda: calls.append("setup"))
    monkeypatch.setattr(training, "_train", lambda config, *args: calls.append("train"))
    anime_gan.train(output_dir=str(tmp_path / "run"), epochs=1)
    assert calls == ["setup", "train"]  # before any message of the call


def test_a_run_on_the_built_in_faces_continued_on_a_folder_takes_no_cache_it_never_used(
        tmp_path, monkeypatch):
    """An older version recorded --cache_dir beside the built-in faces, which make no cache:
    continued on real data, the run caches in memory, not in that folder."""
    from anime_gan import training

    monkeypatch.chdir(tmp_path)
    (tmp_path / "faces").mkdir()
    RunFolder("run").write_config(TrainConfig(cache_dir="cache", output_dir="run"))
    open(RunFolder("run").history, "w").close()  # it kept an epoch: a run to continue
    monkeypatch.setattr(training, "_train", lambda config, *args: config)  # no training
    config = anime_gan.train(output_dir="run", data_dir="faces", epochs=2)
    assert config.cache_dir is None and config.data_dir == "faces"
    RunFolder("with_data").write_config(TrainConfig(data_dir="faces", cache_dir="cache",
                                                    output_dir="with_data"))
    open(RunFolder("with_data").history, "w").close()
    assert anime_gan.train(output_dir="with_data", epochs=2).cache_dir == str(
        tmp_path / "cache")  # the cache its data used goes on with it

"""The notebook API: loading a run's generator, sampling, grids, interpolation."""

import json
import os
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import anime_gan

def test_load_generator_prefers_newest_checkpoint(trained_run):
    from_checkpoint = anime_gan.load_generator(str(trained_run))
    from_keras_file = keras.models.load_model(trained_run / "generator_ema.keras")
    latents = np.random.default_rng(1).normal(size=(3, 128)).astype(np.float32)
    # Both hold the moving average (the default) of the end of the last epoch.
    np.testing.assert_allclose(np.asarray(from_checkpoint(latents)),
                               np.asarray(from_keras_file(latents)), atol=1e-5)
    shutil.rmtree(trained_run / "checkpoints")
    assert anime_gan.load_generator(str(trained_run)).input_shape == (None, 128)


def test_load_generator_takes_a_saved_keras_network(tmp_path):
    generator = anime_gan.build_generator(16)
    generator.save(tmp_path / "mine.keras")
    loaded = anime_gan.load_generator(tmp_path / "mine.keras")
    np.testing.assert_array_equal(anime_gan.sample(loaded, 2), anime_gan.sample(generator, 2))
    (tmp_path / "cut.keras").write_bytes((tmp_path / "mine.keras").read_bytes()[:1000])
    with pytest.raises(anime_gan.ConfigError, match=r"cut.keras does not load: not a Keras "
                                                    r"model file, or a damaged one \(a .keras"):
        anime_gan.load_generator(tmp_path / "cut.keras")


def test_load_generator_passes_over_a_damaged_keras_file(trained_run, caplog):
    """A run copied without its checkpoints, whose generator_ema.keras was cut short."""
    shutil.rmtree(trained_run / "checkpoints")
    ema = trained_run / "generator_ema.keras"
    ema.write_bytes(ema.read_bytes()[:100_000])
    generator = anime_gan.load_generator(str(trained_run))
    expected = keras.models.load_model(trained_run / "generator.keras")
    latents = np.random.default_rng(2).normal(size=(2, 128)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(generator(latents)), np.asarray(expected(latents)))
    assert f"Skipped a generator file: {ema} does not load: " in caplog.text
    os.remove(trained_run / "generator.keras")
    with pytest.raises(anime_gan.ConfigError, match=r": no generator saved in the run \(no "
                                                    r"readable checkpoint"):
        anime_gan.load_generator(str(trained_run))


def test_load_generator_without_an_average_prefers_generator_keras(trained_run):
    """After a resume with --ema_decay=0, an old generator_ema.keras is stale."""
    shutil.rmtree(trained_run / "checkpoints")
    config = json.loads((trained_run / "config.json").read_text())
    (trained_run / "config.json").write_text(json.dumps({**config, "ema_decay": 0.0}))
    generator = anime_gan.load_generator(str(trained_run))
    expected = keras.models.load_model(trained_run / "generator.keras")
    latents = np.random.default_rng(2).normal(size=(2, 128)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(generator(latents)), np.asarray(expected(latents)))


@pytest.mark.long
def test_load_generator_computes_in_the_runs_precision_as_its_files_do(image_folder, tmp_path):
    """A bfloat16 run: its checkpoint's generator gives the images of its .keras file and of
    the export written at the end of training, not float32 ones that differ by a level."""
    run = tmp_path / "run"
    anime_gan.train(model="dcgan", epochs=1, steps_per_epoch=1, batch_size=4, ema_decay=0,
                    mixed_precision="bfloat16", data_dir=image_folder, output_dir=str(run),
                    live=False)
    loaded = anime_gan.load_generator(str(run))
    assert loaded.get_layer("up1").compute_dtype == "bfloat16"
    images = anime_gan.sample(loaded, 16, seed=2)
    saved = keras.models.load_model(run / "generator.keras")
    np.testing.assert_array_equal(images, anime_gan.sample(saved, 16, seed=2))
    served = tf.saved_model.load(str(run / "export")).signatures["generate"](
        batch_size=tf.constant(16), seed=tf.constant(2))["images"].numpy()
    np.testing.assert_array_equal(images, served)
    assert keras.config.dtype_policy().name == "float32"  # as it was


def test_a_discriminator_given_for_a_generator_is_refused_in_one_line(tmp_path):
    critic = anime_gan.build_critic(64)
    critic.save(tmp_path / "critic.keras")
    named = r"critic maps \(None, 64, 64, 3\) to \(None, 1\), not latents \[N, latent_dim\] " \
            r"to images \[N, H, W, 3\] \(it is a discriminator or critic\)"
    with pytest.raises(anime_gan.ConfigError, match=r"critic.keras is no generator: " + named):
        anime_gan.load_generator(str(tmp_path / "critic.keras"))
    for call in (lambda: anime_gan.sample(critic, 2), lambda: anime_gan.interpolation_grid(critic),
                 lambda: anime_gan.export_generator(critic, tmp_path / "export")):
        with pytest.raises(TypeError, match=named):
            call()
    assert not (tmp_path / "export").exists()
    assert anime_gan.sample(anime_gan.build_generator(16, 128), 1).shape == (1, 128, 128, 3)


def test_sample_is_uint8_and_seeded():
    generator = anime_gan.build_generator(16, 64)
    images = anime_gan.sample(generator, 6, seed=2)
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, anime_gan.sample(generator, 6, seed=2))
    assert not np.array_equal(images, anime_gan.sample(generator, 6, seed=3))


def test_show_grid_returns_a_figure():
    images = np.zeros((6, 64, 64, 3), np.uint8)
    figure = anime_gan.show_grid(images, title="six")
    assert figure.axes[0].get_images()[0].get_array().shape == (2 * 64, 3 * 64, 3)


@pytest.mark.parametrize("count, rows, cols", [
    (8, 2, 4), (12, 3, 4), (3, 1, 3), (16, 4, 4), (7, 3, 3), (64, 8, 8)])
def test_show_grid_fills_a_rectangle_when_the_count_allows(count, rows, cols):
    images = np.full((count, 8, 8, 3), 200, np.uint8)
    grid = anime_gan.show_grid(images).axes[0].get_images()[0].get_array()
    assert grid.shape == (rows * 8, cols * 8, 3)
    black_cells = rows * cols - count  # only where no rectangle holds them all
    assert (grid.reshape(rows, 8, cols, 8, 3).max(axis=(1, 3, 4)) == 0).sum() == black_cells


def test_show_grid_keeps_its_title_in_a_saved_figure(tmp_path):
    images = np.zeros((4, 32, 32, 3), np.uint8)
    anime_gan.show_grid(images, title="epoch 3").savefig(tmp_path / "titled.png")
    anime_gan.show_grid(images).savefig(tmp_path / "plain.png")
    titled = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "titled.png"))
    plain = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "plain.png"))
    band = titled.shape[0] - plain.shape[0]
    assert plain.shape[:2] == (64, 64) and band == 30 and titled.shape[1] == 64
    assert (titled[:band] < 128).any()  # the title's dark text, above the images
    np.testing.assert_array_equal(titled[band:], plain)


def test_show_grid_reads_float_images_on_the_networks_scale():
    """A generator's output ([-1, 1] floats, tensors too) shows as sample()'s pixels would."""
    floats = np.array([-1.0, 0.0, 1.0, 0.5], np.float32).reshape(4, 1, 1, 1) * np.ones(
        (4, 2, 2, 3), np.float32)
    for images in (floats, tf.constant(floats)):
        shown = anime_gan.show_grid(images, rows=1).axes[0].get_images()[0].get_array()
        assert shown.dtype == np.uint8
        # (x + 1) * 127.5, rounded: -1 -> 0, 0 -> 128 (127.5 rounds to even), 1 -> 255, 0.5 -> 191
        np.testing.assert_array_equal(shown[0, ::2, 0], [0, 128, 255, 191])


def test_show_grid_shows_grey_images_in_rgb():
    grey = np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1)
    shown = anime_gan.show_grid(grey).axes[0].get_images()[0].get_array()
    assert shown.shape == (2, 2, 3)
    np.testing.assert_array_equal(shown[..., 2], [[0, 1], [2, 3]])


@pytest.mark.parametrize("images, message", [
    (np.zeros((0, 64, 64, 3), np.uint8), "no images to show"),
    (np.zeros((2, 64, 64, 4), np.uint8), "got an array of shape (2, 64, 64, 4)"),
    (np.zeros((64, 64), np.uint8), "got an array of shape (64, 64)"),
])
def test_show_grid_refuses_what_is_not_images_in_one_line(images, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        anime_gan.show_grid(images)


def test_slerp_endpoints_and_midpoint():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    path = anime_gan.slerp(a, b, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[2], b, atol=1e-6)
    # Orthogonal endpoints: the midpoint is (a + b) * sin(pi/4) / sin(pi/2).
    np.testing.assert_allclose(path[1], (a + b) * np.sin(np.pi / 4), atol=1e-6)
    # Same-length endpoints keep their length all the way.
    c = np.array([0.0, 1.0, 0.0])
    norms = np.linalg.norm(anime_gan.slerp(a, c, np.linspace(0, 1, 7)), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


def test_slerp_of_parallel_vectors_is_linear():
    a = np.array([1.0, 1.0])
    np.testing.assert_allclose(anime_gan.slerp(a, 2 * a, [0.5])[0], 1.5 * a, atol=1e-6)


def test_generator_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    marker_path = str(marker)
    latents = keras.Input((4,))
    images = keras.layers.Lambda(lambda x: (open(marker_path, "w").close(), x)[1])(latents)
    keras.Model(latents, images).save(tmp_path / "generator.keras")
    marker.unlink(missing_ok=True)  # the lambda ran once while building the model

    with pytest.raises(ValueError, match="safe_mode"):
        anime_gan.load_generator(str(tmp_path))
    assert not marker.exists()

"""SavedModel export, --mode=generate/export, the notebook API and TensorBoard logs."""

import glob
import os
import shutil
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import anime_gan
from anime_gan import generate
from anime_gan.data import to_uint8
from conftest import run_main, run_python


def keras_images(generator, latents):
    return np.asarray(to_uint8(generator(latents, training=False)))


def test_saved_model_serves_without_anime_gan(trained_run, tmp_path):
    latents = np.random.default_rng(0).normal(size=(5, 128)).astype(np.float32)
    np.save(tmp_path / "latents.npy", latents)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        model = tf.saved_model.load({str(trained_run / 'export')!r})
        serve = model.signatures["serving_default"]
        images = serve(latents=tf.constant(np.load({str(tmp_path / 'latents.npy')!r})))["images"]
        seeded = model.signatures["generate"](batch_size=tf.constant(4), seed=tf.constant(7))
        again = model.signatures["generate"](batch_size=tf.constant(4), seed=tf.constant(7))
        other = model.signatures["generate"](batch_size=tf.constant(4), seed=tf.constant(8))
        assert images.dtype == tf.uint8 and seeded["images"].dtype == tf.uint8
        np.save({str(tmp_path / 'served.npy')!r}, images.numpy())
        np.save({str(tmp_path / 'seeded.npy')!r}, seeded["images"].numpy())
        assert np.array_equal(seeded["images"].numpy(), again["images"].numpy())
        assert not np.array_equal(seeded["images"].numpy(), other["images"].numpy())
        assert not any(m.startswith("anime_gan") for m in sys.modules)
    """)
    result = run_python(["-c", script], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    generator = keras.models.load_model(trained_run / "generator.keras")
    served = np.load(tmp_path / "served.npy")
    assert served.shape == (5, 64, 64, 3)
    assert np.abs(served.astype(int) - keras_images(generator, latents)).max() <= 1
    seeded = np.load(tmp_path / "seeded.npy")
    assert seeded.shape == (4, 64, 64, 3)
    assert np.abs(seeded.astype(int) - anime_gan.sample(generator, 4, seed=7)).max() <= 1


def test_export_mode_rewrites_the_export(trained_run):
    shutil.rmtree(trained_run / "export")
    result = run_main("--mode=export", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (trained_run / "export" / "saved_model.pb").is_file()
    assert not glob.glob(str(trained_run / "export.*"))


def test_generate_mode_writes_images_grid_interpolation_and_gif(trained_run):
    result = run_main("--mode=generate", f"--output_dir={trained_run}", "--num_images=5",
                      "--seed=4", "--interpolate")
    assert result.returncode == 0, result.stderr[-3000:]
    out = trained_run / "generated" / "seed_4"
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png", "00002.png", "00003.png",
                                       "00004.png", "grid.png", "interpolation.png",
                                       "samples.gif"]
    written = np.stack([np.asarray(Image.open(out / f"{i:05d}.png")) for i in range(5)])
    expected = anime_gan.sample(anime_gan.load_generator(str(trained_run)), 5, seed=4)
    assert np.abs(written.astype(int) - expected).max() <= 1
    assert Image.open(out / "grid.png").size == (3 * 64, 2 * 64)  # 3 columns, 2 rows
    assert Image.open(out / "interpolation.png").size == (8 * 64, 8 * 64)
    gif = Image.open(out / "samples.gif")
    assert gif.n_frames == 2  # one per epoch


def test_generate_mode_on_a_missing_run_fails_clearly(tmp_path):
    result = run_main("--mode=generate", f"--output_dir={tmp_path / 'nothing'}")
    assert result.returncode == 2
    assert "no run here" in result.stderr and "Traceback" not in result.stderr


def test_load_generator_prefers_newest_checkpoint(trained_run):
    from_checkpoint = anime_gan.load_generator(str(trained_run))
    from_keras_file = keras.models.load_model(trained_run / "generator_ema.keras")
    latents = np.random.default_rng(1).normal(size=(3, 128)).astype(np.float32)
    # Both hold the moving average (the default) of the end of the last epoch.
    np.testing.assert_allclose(np.asarray(from_checkpoint(latents)),
                               np.asarray(from_keras_file(latents)), atol=1e-5)
    shutil.rmtree(trained_run / "checkpoints")
    assert anime_gan.load_generator(str(trained_run)).input_shape == (None, 128)


def test_sample_is_uint8_and_seeded():
    generator = anime_gan.build_generator(16, 64)
    images = anime_gan.sample(generator, 6, seed=2)
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, anime_gan.sample(generator, 6, seed=2))
    assert not np.array_equal(images, anime_gan.sample(generator, 6, seed=3))


def test_show_grid_returns_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    images = np.zeros((6, 64, 64, 3), np.uint8)
    figure = anime_gan.show_grid(images, title="six")
    assert figure.axes[0].get_images()[0].get_array().shape == (2 * 64, 3 * 64, 3)


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


def tensorboard_tags(directory):
    tags = set()
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_tensorboard_logs_step_and_epoch_metrics_and_samples(trained_run):
    train_tags = tensorboard_tags(trained_run / "logs" / "train")
    for name in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert f"batch_{name}" in train_tags and f"epoch_{name}" in train_tags
    assert "samples" in tensorboard_tags(trained_run / "logs" / "samples")

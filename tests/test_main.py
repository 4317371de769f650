"""main.py end to end, in subprocesses, as a user runs it."""

import csv
import json
import os
import textwrap

import numpy as np
import pytest
from PIL import Image

from conftest import run_main, run_python as run

EXPECTED = {
    "dcgan": {"plots": ["losses.png", "scores.png"],
              "metrics": {"d_loss", "g_loss", "real_score", "fake_score"}},
    "wgan": {"plots": ["losses.png", "wasserstein.png"],
             "metrics": {"d_loss", "g_loss", "wasserstein", "gradient_penalty"}},
}


@pytest.mark.parametrize("model", ["dcgan", "wgan"])
def test_main_trains_and_writes_every_output(model, image_folder, tmp_path):
    out = tmp_path / "run"
    result = run_main(f"--model={model}", "--epochs=2", "--steps_per_epoch=1",
                      "--batch_size=4", "--n_critic=2", f"--data_dir={image_folder}",
                      f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "Epoch 2/2" in log
    assert " loss:" not in log and "- loss" not in log  # no phantom Keras loss

    for name in ["generator.keras", "discriminator.keras", "config.json", "history.csv",
                 "samples/epoch_0001.png", "samples/epoch_0002.png", "checkpoints/checkpoint",
                 "export/saved_model.pb", *EXPECTED[model]["plots"]]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not [p for p in os.listdir(out) if p.startswith(".tmp") or p.endswith((".tmp", ".old"))]
    assert os.listdir(out / "logs" / "train") and os.listdir(out / "logs" / "samples")

    grid = np.asarray(Image.open(out / "samples" / "epoch_0001.png"))
    assert grid.shape == (8 * 64, 8 * 64, 3)
    assert Image.open(out / "losses.png").size[0] > 100

    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert set(rows[0]) == {"epoch"} | EXPECTED[model]["metrics"]
    assert all(np.isfinite(float(v)) for row in rows for v in row.values())

    config = json.loads((out / "config.json").read_text())
    assert config["model"] == model and config["data_dir"] == image_folder


@pytest.mark.slow
def test_same_seed_repeats_the_run(image_folder, tmp_path):
    def weights(out):
        result = run_main("--model=dcgan", "--epochs=1", "--steps_per_epoch=2", "--batch_size=4",
                          "--seed=7", f"--data_dir={image_folder}", f"--output_dir={out}")
        assert result.returncode == 0, result.stderr[-3000:]
        return np.asarray(Image.open(out / "samples" / "epoch_0001.png"))
    np.testing.assert_array_equal(weights(tmp_path / "a"), weights(tmp_path / "b"))


def test_main_defaults_to_builtin_faces(tmp_path):
    out = tmp_path / "run"
    result = run_main("--epochs=1", "--steps_per_epoch=1", "--batch_size=4",
                      f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "built-in cartoon faces" in result.stderr and "--data_dir" in result.stderr
    assert (out / "samples" / "epoch_0001.png").is_file()


@pytest.mark.parametrize("flag, message", [
    ("--batch_size=0", "--batch_size=0: must be at least 1"),
    ("--image_size=96", "--image_size=96: must be one of 64, 128"),
    ("--model=gan", "--model=gan: must be one of dcgan, wgan"),
    ("--d_beta1=1.5", "--d_beta1=1.5: must be in [0, 1)"),
    ("--data_dir=/no/such/folder", "--data_dir=/no/such/folder: no such folder"),
    ("--dataset=mnist", "--dataset=mnist: must look like tfds:NAME"),
    ("--epochs=abc", "flag --epochs=abc: invalid literal for int()"),
    ("--nosuchflag=1", "Unknown command line flag 'nosuchflag'"),
    ("--mode=train2", "--mode=train2: must be one of train, export, generate"),
    ("--checkpoint_every=-1", "--checkpoint_every=-1: must be 0 (epoch ends only) or more"),
])
def test_invalid_flags_fail_at_once_naming_the_flag(flag, message, tmp_path):
    result = run_main(flag, f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_saved_generator_reloads_without_anime_gan(image_folder, tmp_path):
    """A process with only Keras reproduces the training process's last sample grid."""
    from anime_gan.artifacts import fixed_latents, image_grid

    out = tmp_path / "run"
    result = run_main("--model=dcgan", "--epochs=1", "--steps_per_epoch=1", "--batch_size=4",
                      "--seed=3", f"--data_dir={image_folder}", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    np.save(tmp_path / "latents.npy", fixed_latents(128, seed=3))

    script = textwrap.dedent(f"""
        import sys
        import keras, numpy as np
        generator = keras.models.load_model({str(out / 'generator.keras')!r})
        images = generator.predict(np.load({str(tmp_path / 'latents.npy')!r}), verbose=0)
        np.save({str(tmp_path / 'fresh.npy')!r}, images)
        assert not any(m.startswith("anime_gan") for m in sys.modules), "anime_gan imported"
    """)
    # Run from tmp_path so the project is not importable from the working directory.
    fresh = run(["-c", script], cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-3000:]

    images = np.load(tmp_path / "fresh.npy")
    assert images.shape == (64, 64, 64, 3)
    pixels = np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8)
    grid_from_training = np.asarray(Image.open(out / "samples" / "epoch_0001.png"))
    difference = np.abs(image_grid(pixels).astype(int) - grid_from_training.astype(int))
    assert difference.max() <= 1  # float round-off may move a pixel by one level

"""Evaluation pipeline: backbones, the real-feature cache, eval.json. Nothing is downloaded."""

import json
import os

import keras
import numpy as np
import pytest

from anime_gan import evaluation
from anime_gan.config import ConfigError
from conftest import run_main


@pytest.fixture
def tiny_backbone(tmp_path):
    """A small Keras feature network saved as a file, like the anime RotNet backbone."""
    images = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(images)
    features = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / "features.keras"
    keras.Model(images, features).save(path)
    return str(path)


def test_inception_backbone_pools_2048_features_at_299():
    backbone = evaluation.inception_backbone(weights=None)
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    features = backbone.features(images)
    assert features.shape == (3, 2048)
    assert backbone.model.input_shape == (None, 299, 299, 3)
    assert np.all(np.isfinite(features))


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="InceptionV3 ImageNet weights are not at .*"
                                          "--backbone_weights=PATH"):
        evaluation.load_backbone("inception")


def test_keras_file_backbone_features(tiny_backbone):
    backbone = evaluation.load_backbone(tiny_backbone)
    images = np.zeros((5, 64, 64, 3), np.uint8)
    assert backbone.features(images, batch_size=2).shape == (5, 8)
    assert backbone.key.startswith("features.keras-")


def test_real_features_are_cached_next_to_the_data(image_folder, tiny_backbone, monkeypatch):
    backbone = evaluation.load_backbone(tiny_backbone)
    first = evaluation.real_features(backbone, 64, 20, data_dir=image_folder)
    assert first.shape == (20, 8)
    cached = os.listdir(os.path.join(image_folder, evaluation.CACHE_FOLDER))
    assert len(cached) == 1 and cached[0].startswith("real_features-")

    for loader in ("load_images", "decoded_images"):
        monkeypatch.setattr(evaluation.data, loader,
                            lambda *a, **k: pytest.fail("recomputed instead of using the cache"))
    np.testing.assert_array_equal(evaluation.real_features(backbone, 64, 20,
                                                           data_dir=image_folder), first)
    monkeypatch.undo()
    # New contents, new key.
    os.remove(os.path.join(image_folder, "images", "0.jpg"))
    evaluation.real_features(backbone, 64, 20, data_dir=image_folder)
    assert len(os.listdir(os.path.join(image_folder, evaluation.CACHE_FOLDER))) == 2


def test_evaluate_mode_writes_eval_json(trained_run, image_folder, tiny_backbone):
    result = run_main("--mode=evaluate", f"--output_dir={trained_run}", "--num_samples=20",
                      f"--backbone={tiny_backbone}", f"--data_dir={image_folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((trained_run / "eval.json").read_text())
    assert report["fid"] >= 0 and 0 <= report["precision"] <= 1 and 0 <= report["recall"] <= 1
    assert np.isfinite(report["kid_mean"]) and report["kid_std"] >= 0
    settings = report["settings"]
    assert settings["real_images"] == settings["generated_images"] == 20
    assert settings["backbone"] == tiny_backbone and settings["image_size"] == 64
    assert '"fid"' in result.stdout


def test_eval_every_logs_kid_to_history_and_tensorboard(image_folder, tiny_backbone, tmp_path):
    import anime_gan
    from test_export import tensorboard_tags
    from test_resume import history_epochs

    out = tmp_path / "run"
    anime_gan.train(model="dcgan", epochs=2, steps_per_epoch=1, batch_size=4,
                    data_dir=image_folder, output_dir=str(out), eval_every=2,
                    eval_samples=12, backbone=tiny_backbone)
    rows = (out / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "kid" in header and history_epochs(out) == [1, 2]
    kid = [row.split(",")[header.index("kid")] for row in rows[1:]]
    assert kid[0] == "" and np.isfinite(float(kid[1]))  # only at epoch 2
    assert "epoch_kid" in tensorboard_tags(out / "logs" / "train")
    assert (out / "kid.png").is_file()

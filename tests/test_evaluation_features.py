"""Evaluation backbones and the real-feature cache. Nothing is downloaded."""

import logging
import os
import re

import keras
import numpy as np
import pytest

from anime_gan import evaluation
from anime_gan.errors import ArtifactWriteError, ConfigError
from anime_gan.evaluation import features

def test_inception_backbone_pools_2048_features_at_299():
    backbone = evaluation.inception_backbone(weights=None)
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    features = backbone.features(images)
    assert features.shape == (3, 2048)
    assert backbone.model.input_shape == (None, 299, 299, 3)
    assert np.all(np.isfinite(features))


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="^--backbone_weights: the InceptionV3 ImageNet "
                                          "weights are not at .*--backbone_weights=PATH"):
        evaluation.load_backbone("inception")


def _saved(path, inputs, outputs):
    keras.Model(inputs, outputs).save(path)
    return str(path)


def test_unsuitable_backbone_files_are_refused_in_one_line(tmp_path):
    rgb = keras.Input((32, 32, 3))
    grey = keras.Input((32, 32, 1))
    pooled = keras.layers.GlobalAveragePooling2D()
    cases = {
        "grey.keras": ([grey], pooled(keras.layers.Conv2D(4, 3)(grey)),
                       r"must take RGB images \[N, H, W, 3\]; its input is \[\(None, 32, 32, 1\)\]"),
        "vector.keras": ([keras.Input((16,))], None, "must take RGB images"),
        "two.keras": ([rgb], [pooled(rgb), keras.layers.Flatten()(rgb)],
                      "must give one output of features"),
        "map.keras": ([rgb], keras.layers.Conv2D(4, 3)(rgb),
                      r"must give one output of features \[N, d\]; its output is "
                      r"\[\(None, 30, 30, 4\)\] \(pool or flatten"),
    }
    for name, (inputs, outputs, message) in cases.items():
        if outputs is None:
            outputs = keras.layers.Dense(2)(inputs[0])
        path = _saved(tmp_path / name, inputs, outputs)
        with pytest.raises(ConfigError, match=f"^--backbone={re.escape(path)}: {message}"):
            evaluation.load_backbone(path)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=f"^--backbone={re.escape(str(junk))}: cannot be loaded "
                                          r"as a Keras model: not a Keras model file, or a "
                                          r"damaged one \(a \.keras file is a zip archive\)$"):
        evaluation.load_backbone(str(junk))


def test_a_weights_file_that_is_not_inception_is_refused_in_one_line(tmp_path):
    junk = tmp_path / "weights.h5"
    junk.write_bytes(b"not weights")
    with pytest.raises(ConfigError, match=f"^--backbone_weights={re.escape(str(junk))}: "
                                          f"{re.escape(str(junk))} is not InceptionV3's no-top"):
        evaluation.load_backbone("inception", str(junk))


def test_another_networks_keras_file_as_inception_weights_is_one_error_without_warnings(
        tiny_backbone, recwarn):
    with pytest.raises(ConfigError, match="is not InceptionV3's no-top"):
        evaluation.load_backbone("inception", tiny_backbone)
    assert [str(w.message) for w in recwarn] == []


def test_keras_file_backbone_features(tiny_backbone):
    backbone = evaluation.load_backbone(tiny_backbone)
    images = np.zeros((5, 64, 64, 3), np.uint8)
    assert backbone.features(images, batch_size=2).shape == (5, 8)
    assert backbone.key.startswith("features.keras-")


def test_real_features_of_the_built_in_faces_say_what_they_compare_with(
        tiny_backbone, tmp_path, monkeypatch, caplog):
    """Evaluating a run trained on the built-in faces: no word of training."""
    import logging

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(features.pipeline, "SYNTHETIC_IMAGES", 30)
    caplog.set_level(logging.INFO)
    backbone = evaluation.load_backbone(tiny_backbone)
    assert evaluation.real_features(backbone, 64, 12).shape == (12, 8)
    assert ("Real images: the 30 built-in cartoon faces, the data of a run given none "
            "(--data_dir=PATH compares with other images)") in caplog.messages
    assert "training" not in caplog.text


def test_real_features_are_cached_next_to_the_data(image_folder, tiny_backbone, monkeypatch):
    backbone = evaluation.load_backbone(tiny_backbone)
    first = evaluation.real_features(backbone, 64, 20, data_dir=image_folder)
    assert first.shape == (20, 8)
    cached = os.listdir(os.path.join(image_folder, features.CACHE_FOLDER))
    assert len(cached) == 1 and cached[0].startswith("real_features-")

    for loader in ("load_images", "decoded_images"):
        monkeypatch.setattr(features.pipeline, loader,
                            lambda *a, **k: pytest.fail("recomputed instead of using the cache"))
    np.testing.assert_array_equal(evaluation.real_features(backbone, 64, 20,
                                                           data_dir=image_folder), first)
    monkeypatch.undo()
    # New contents, new key.
    os.remove(os.path.join(image_folder, "images", "0.jpg"))
    evaluation.real_features(backbone, 64, 20, data_dir=image_folder)
    assert len(os.listdir(os.path.join(image_folder, features.CACHE_FOLDER))) == 2


def test_real_features_go_into_a_cache_folder_given_and_not_into_the_data(
        image_folder, tiny_backbone, tmp_path, monkeypatch, caplog):
    backbone = evaluation.load_backbone(tiny_backbone)
    cache = str(tmp_path / "cache")
    with caplog.at_level(logging.INFO, logger="anime_gan"):
        first = evaluation.real_features(backbone, 64, 20, data_dir=image_folder,
                                         cache_dir=cache)
    assert not os.path.exists(os.path.join(image_folder, features.CACHE_FOLDER))
    cached = os.listdir(cache)
    assert len(cached) == 1 and cached[0].startswith("real_features-")
    # Said before the decoding, which would read like the training data's again.
    said = caplog.text[caplog.text.index("Measuring the features of up to 20 real images"):]
    assert f"to compare with (once: then kept in {os.path.join(cache, cached[0])})" in said
    assert "Decoding" in said
    monkeypatch.setattr(features.pipeline, "decoded_images",
                        lambda *a, **k: pytest.fail("recomputed instead of using the cache"))
    np.testing.assert_array_equal(
        evaluation.real_features(backbone, 64, 20, data_dir=image_folder, cache_dir=cache), first)


def test_features_are_returned_when_the_cache_cannot_be_written(image_folder, tiny_backbone,
                                                               monkeypatch, caplog):
    def full_disk(path):
        raise ArtifactWriteError(f"could not write {path}: No space left on device")

    monkeypatch.setattr(features, "atomic_path", full_disk)
    backbone = evaluation.load_backbone(tiny_backbone)
    assert features.real_features(backbone, 64, 10, data_dir=image_folder).shape == (10, 8)
    assert "Could not cache the real-image features" in caplog.text


def test_fewer_real_images_than_eval_samples_are_all_used_and_said(tiny_backbone, tmp_path,
                                                                   monkeypatch, caplog):
    from anime_gan import TrainConfig, training

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(features.pipeline, "SYNTHETIC_IMAGES", 30)
    backbone = evaluation.load_backbone(tiny_backbone)
    for asked, warned in ((50, True), (30, False)):
        caplog.clear()
        config = TrainConfig(eval_every=1, eval_samples=asked, output_dir="x")
        [monitor] = training._kid_monitor(config, backbone)
        assert len(monitor.real) == 30
        assert ((f"--eval_samples={asked}: 30 usable real images in the built-in faces; "
                 "all 30 are compared" in caplog.messages) == warned)


def test_real_features_decode_only_about_the_images_they_use(image_folder, tiny_backbone,
                                                              monkeypatch):
    """Not the whole data set, a second time in memory beside training's."""
    decoded = []
    decode = features.pipeline.decoded_images

    def counting(paths, *args, **kwargs):
        decoded.append(list(paths))
        return decode(paths, *args, **kwargs)

    monkeypatch.setattr(features.pipeline, "decoded_images", counting)
    backbone = evaluation.load_backbone(tiny_backbone)
    all_files = features.scan_folder(image_folder).usable
    assert len(all_files) == 24
    assert evaluation.real_features(backbone, 64, 5, data_dir=image_folder).shape == (5, 8)
    assert len(decoded[-1]) == 15 and set(decoded[-1]) < set(all_files)  # 5, a tenth, 10
    assert decoded[-1] == sorted(decoded[-1])
    assert evaluation.real_features(backbone, 64, 20, data_dir=image_folder).shape == (20, 8)
    assert decoded[-1] == all_files  # 20 and the margin are more than there are
    # When more of the chosen files fail to decode than the margin covers: all of them.
    def most_fail(paths, *args, **kwargs):
        decoded.append(list(paths))
        images, count = decode(paths, *args, **kwargs)
        return (images.take(2), 2) if len(paths) < 24 else (images, count)

    monkeypatch.setattr(features.pipeline, "decoded_images", most_fail)
    decoded.clear()
    assert evaluation.real_features(backbone, 64, 6, data_dir=image_folder, seed=1).shape[0] == 6
    assert [len(paths) for paths in decoded] == [16, 24]

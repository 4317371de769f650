"""TrainConfig: every setting, its default per model, and its check."""

import dataclasses
import json
import logging
import os
import re

import numpy as np
import pytest

from anime_gan import training
from anime_gan.flag_files import experiment_settings
from anime_gan.config import TrainConfig
from anime_gan.errors import ConfigError
from anime_gan.run_folder import RunFolder


def test_defaults_per_model():
    dcgan = TrainConfig(model="dcgan")
    wgan = TrainConfig(model="wgan")
    assert (dcgan.g_lr, dcgan.g_beta1, dcgan.g_beta2) == (2e-4, 0.5, 0.999)
    assert (dcgan.d_lr, dcgan.d_beta1, dcgan.d_beta2) == (2e-4, 0.5, 0.999)
    assert (wgan.g_lr, wgan.g_beta1, wgan.g_beta2) == (1e-4, 0.0, 0.9)
    assert (wgan.batch_size, wgan.latent_dim, wgan.image_size) == (64, 128, 64)
    assert wgan.n_critic == 5 and wgan.gp_weight == 10.0
    assert dcgan.output_dir.startswith(os.path.join("runs", "")) and dcgan.output_dir.endswith("dcgan")


def test_explicit_values_override_defaults():
    config = TrainConfig(model="wgan", g_lr=3e-4, d_beta2=0.99)
    assert config.g_lr == 3e-4 and config.d_lr == 1e-4 and config.d_beta2 == 0.99


def test_home_is_expanded_in_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "faces").mkdir()
    config = TrainConfig(data_dir="~/faces", output_dir="~/run")
    assert config.data_dir == str(tmp_path / "faces") and config.output_dir == str(tmp_path / "run")


@pytest.mark.parametrize("settings, flag", [
    ({"epochs": 0}, "--epochs"),
    ({"steps_per_epoch": 0}, "--steps_per_epoch"),
    ({"latent_dim": -1}, "--latent_dim"),
    ({"n_critic": 0}, "--n_critic"),
    ({"g_lr": 0.0}, "--g_lr"),
    ({"d_beta2": 1.0}, "--d_beta2"),
    ({"gp_weight": -1.0}, "--gp_weight"),
    ({"ema_decay": 1.0}, "--ema_decay"),
    ({"diffaugment": "color,flip"}, "--diffaugment"),
    ({"upsampling": "pixel_shuffle"}, "--upsampling"),
    ({"mixed_precision": "float8"}, "--mixed_precision"),
    ({"strategy": "horovod"}, "--strategy"),
    ({"eval_every": -1}, "--eval_every"),
    ({"num_samples": 5}, "--num_samples"),
    ({"backbone": "resnet"}, "--backbone"),
    ({"data_dir": ".", "dataset": "tfds:mnist"}, "--dataset"),
    ({"seed": -1}, "--seed"),
    ({"latent_dim": 100_000}, "--latent_dim"),
    ({"model": "wgan", "gp_weight": float("nan")}, "--gp_weight"),
    ({"gp_weight": float("inf")}, "--gp_weight"),
    ({"g_lr": float("inf")}, "--g_lr"),
    ({"seed": 2**31}, "--seed"),
])
def test_invalid_settings_name_their_flag(settings, flag):
    with pytest.raises(ConfigError, match=f"^{flag}="):
        TrainConfig(**settings)


def test_diffaugment_defaults_per_model_and_turns_off_when_empty():
    assert TrainConfig(output_dir="x").diffaugment == "color,translation,cutout"
    assert TrainConfig(model="wgan", output_dir="x").diffaugment == ""
    assert TrainConfig(diffaugment="", output_dir="x").diffaugment == ""


@pytest.mark.parametrize("settings, message", [
    ({"epochs": "3"}, "--epochs='3': must be an integer"),
    ({"steps_per_epoch": 2.5}, "--steps_per_epoch=2.5: must be an integer"),
    ({"batch_size": True}, "--batch_size=True: must be an integer"),
    ({"g_lr": "fast"}, "--g_lr='fast': must be a number"),
    ({"jit_compile": 1}, "--jit_compile=1: must be true or false"),
    ({"data_dir": 3}, "--data_dir=3: must be a string"),
])
def test_settings_of_the_wrong_type_name_their_flag(settings, message):
    """A notebook's train(epochs="3") fails at once, not inside TensorFlow."""
    with pytest.raises(ConfigError) as error:
        TrainConfig(output_dir="x", **settings)
    assert str(error.value) == message


def test_numbers_of_the_right_kind_become_python_numbers():
    config = TrainConfig(output_dir="x", model="wgan", epochs=np.int64(3), g_lr=1,
                         gp_weight=np.float32(5))
    assert (config.epochs, config.g_lr, config.gp_weight) == (3, 1.0, 5.0)
    assert [type(v) for v in (config.epochs, config.g_lr, config.gp_weight)] == [int, float, float]
    assert config.steps_per_epoch is None  # optional settings may stay unset


def test_an_unknown_setting_is_refused_with_the_nearest_name():
    with pytest.raises(ConfigError, match=r"^epoch: no such setting \(did you mean epochs\?\)"):
        TrainConfig.from_settings(epoch=1)
    with pytest.raises(ConfigError, match=r"^colour: no such setting;"):
        TrainConfig(output_dir="x").replace(colour="red")
    assert TrainConfig(output_dir="x").replace(epochs=2).epochs == 2
    with pytest.raises(ConfigError, match=r"^modle: no such setting \(did you mean mode or model\?\)"):
        TrainConfig.from_settings(modle="wgan")


def test_a_run_written_into_its_own_data_folder_is_refused(tmp_path, monkeypatch):
    faces = tmp_path / "faces"
    (faces / "samples").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for data_dir, output_dir in ((faces, str(faces)), (faces, "faces"), (faces, "./faces/"),
                                 (faces / "samples", "faces")):
        with pytest.raises(ConfigError, match=r"^--output_dir=.*: holds the --data_dir; its "
                                              "sample grids would become training data"):
            TrainConfig(data_dir=str(data_dir), output_dir=output_dir).check_paths()
    TrainConfig(data_dir=str(faces), output_dir="faces/run").check_paths()  # inside it: skipped
    TrainConfig(data_dir=str(faces), output_dir="faces2").check_paths()  # a name's prefix


@pytest.mark.parametrize("mode", ["train", "generate"])
def test_an_empty_output_dir_is_refused_not_taken_for_a_new_run(mode):
    """--output_dir=$UNSET_VARIABLE would start a new run beside the one to resume."""
    with pytest.raises(ConfigError, match=r"^--output_dir=: is empty \(an unset variable\?\); "
                                          r"leave it out for a new run$"):
        TrainConfig(mode=mode, output_dir="")
    assert TrainConfig().output_dir.startswith("runs")  # left out: a new run folder


@pytest.mark.parametrize("flag", ["data_dir", "dataset"])
def test_an_empty_data_flag_is_refused_not_taken_for_the_built_in_faces(flag, tmp_path):
    """--data_dir=$UNSET_VARIABLE trained on the built-in faces with an info line."""
    with pytest.raises(ConfigError, match=rf"^--{flag}=: is empty \(an unset variable\?\); "
                                          "give the data, or leave the flag out"):
        TrainConfig(**{flag: ""}, output_dir="x")
    # Beside the other one, an empty one clears what a flag file gave.
    other = {"data_dir": ("dataset", "tfds:anime_faces"), "dataset": ("data_dir", str(tmp_path))}
    cleared = TrainConfig(**{flag: "", other[flag][0]: other[flag][1]}, output_dir="x")
    assert getattr(cleared, flag) is None and getattr(cleared, other[flag][0]) == other[flag][1]
    # A run recorded with an empty one before this check reads back as a run without data.
    folder = RunFolder(str(tmp_path / "run"))
    os.makedirs(folder.path)
    folder.write_config(TrainConfig(output_dir=folder.path))
    with open(folder.config) as f:
        saved = json.load(f)
    saved[flag] = ""
    with open(folder.config, "w") as f:
        json.dump(saved, f)
    restored = folder.read_config()
    assert restored.data_dir is None and restored.dataset is None


def test_an_experiment_gives_the_settings_of_its_flag_file():
    settings = experiment_settings("wgan_gp_64")
    assert (settings["model"], settings["n_critic"], settings["gp_weight"]) == ("wgan", 5, 10.0)
    assert (settings["g_lr"], settings["g_beta1"], settings["g_beta2"]) == (1e-4, 0.0, 0.9)
    assert "data_dir" not in settings  # only what the file sets
    with pytest.raises(ConfigError, match="^--experiment=nope: must be one of .*wgan_gp_64"):
        experiment_settings("nope")


def test_train_by_experiment_name_with_overrides(monkeypatch):
    """train(experiment=NAME, ...) trains the experiment's config with the keywords on top."""
    seen = []

    class Stop(Exception):
        pass

    def stop_before_training(config):
        seen.append(config)
        raise Stop

    monkeypatch.setattr(training.TrainConfig, "check_paths", stop_before_training)
    with pytest.raises(Stop):
        training.train(experiment="wgan_gp_64", epochs=3, output_dir="x")
    assert (seen[0].model, seen[0].n_critic, seen[0].epochs, seen[0].output_dir) == (
        "wgan", 5, 3, "x")
    with pytest.raises(ConfigError, match="^epoch: no such setting"):
        training.train(experiment="wgan_gp_64", epoch=3)


def test_an_unset_flag_is_named_without_none():
    with pytest.raises(ConfigError) as error:
        TrainConfig(mode="generate")
    assert str(error.value) == "--output_dir: --mode=generate needs the run folder as --output_dir"


def test_wgan_clip_with_adam_takes_wgan_gps_betas_unless_given():
    config = TrainConfig(model="wgan_clip", optimizer="adam", output_dir="x")
    assert (config.g_lr, config.d_lr) == (5e-5, 5e-5)  # the model's own learning rate
    assert (config.g_beta1, config.g_beta2, config.d_beta1, config.d_beta2) == (0.0, 0.9, 0.0, 0.9)
    given = TrainConfig(model="wgan_clip", optimizer="adam", d_beta2=0.99, output_dir="x")
    assert (given.d_beta2, given.g_beta2) == (0.99, 0.9)
    assert TrainConfig(model="dcgan", optimizer="adam", output_dir="x").g_beta1 == 0.5


@pytest.mark.parametrize("settings, flag, message", [
    (dict(model="dcgan", n_critic=3), "n_critic",
     "--n_critic=3: --model=dcgan does not use it (it is for wgan, wgan_clip, sngan); ignored"),
    (dict(model="dcgan", gp_weight=1.0), "gp_weight",
     "--gp_weight=1.0: --model=dcgan does not use it (it is for wgan); ignored"),
    (dict(model="sngan", gp_weight=5.0), "gp_weight", "--model=sngan does not use it"),
    (dict(model="wgan", clip_value=0.5), "clip_value",
     "--clip_value=0.5: --model=wgan does not use it (it is for wgan_clip); ignored"),
])
def test_a_setting_the_model_does_not_use_is_dropped_with_a_warning(settings, flag, message,
                                                                    caplog):
    """config.json would otherwise record it as if it had applied."""
    with caplog.at_level(logging.WARNING, logger="anime_gan.config"):
        config = TrainConfig(**settings)
    assert message in caplog.text
    assert getattr(config, flag) == getattr(TrainConfig(model=settings["model"]), flag)


@pytest.mark.parametrize("model, optimizer", [("wgan_clip", None), ("dcgan", "rmsprop")])
def test_betas_given_to_rmsprop_are_dropped_with_a_warning(model, optimizer, caplog):
    """RMSProp has no betas: config.json would otherwise record them as if they applied."""
    plain = TrainConfig(model=model, optimizer=optimizer, output_dir="x")
    with caplog.at_level(logging.WARNING, logger="anime_gan.config"):
        assert TrainConfig(**dataclasses.asdict(plain)) == plain  # config.json read back
        assert caplog.text == ""
        config = TrainConfig(model=model, optimizer=optimizer, g_beta1=0.3, d_beta2=0.95,
                             output_dir="x")
    assert config.optimizer == "rmsprop"
    assert (config.g_beta1, config.d_beta2) == (plain.g_beta1, plain.d_beta2)
    assert "--g_beta1=0.3: --optimizer=rmsprop has no betas (they are for adam); ignored" \
        in caplog.text
    assert "--d_beta2=0.95: --optimizer=rmsprop has no betas" in caplog.text
    caplog.clear()
    assert TrainConfig(model=model, optimizer="adam", g_beta1=0.3, output_dir="x").g_beta1 == 0.3
    assert caplog.text == ""


def test_backbone_weights_beside_a_keras_feature_network_are_dropped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="anime_gan.config"):
        config = TrainConfig(backbone="features.keras", backbone_weights="inception.h5")
        assert config.backbone_weights is None  # eval.json records what was used
        assert "--backbone_weights=inception.h5: --backbone=features.keras holds its own " \
            "weights (it is for inception); ignored" in caplog.text
        caplog.clear()
        assert TrainConfig(backbone_weights="inception.h5").backbone_weights == "inception.h5"
    assert caplog.text == ""


def test_model_specific_settings_are_kept_for_their_models_and_at_defaults_without_a_word(
        caplog):
    with caplog.at_level(logging.WARNING, logger="anime_gan.config"):
        for model in ("dcgan", "wgan", "wgan_clip", "sngan"):
            config = TrainConfig(model=model, gp_weight=10.0, clip_value=0.01)
            assert TrainConfig(**dataclasses.asdict(config)) == config  # config.json read back
        assert TrainConfig(model="dcgan", n_critic=1).n_critic == 1
        config = TrainConfig(model="wgan", n_critic=2, gp_weight=5.0)
        assert (config.n_critic, config.gp_weight) == (2, 5.0)
        assert TrainConfig(model="wgan_clip", clip_value=0.5).clip_value == 0.5
    assert caplog.text == ""


def test_the_default_run_folder_is_never_one_that_exists(tmp_path, monkeypatch):
    """Two runs started in the same second get two folders (the name has seconds)."""
    import datetime
    import types

    from anime_gan import config as config_module

    now = datetime.datetime(2026, 12, 4, 9, 30, 15)
    monkeypatch.setattr(config_module, "datetime", types.SimpleNamespace(
        datetime=types.SimpleNamespace(now=lambda: now)))
    monkeypatch.chdir(tmp_path)
    base = os.path.join("runs", "20261204-093015-dcgan")
    assert TrainConfig(model="dcgan").output_dir == base
    os.makedirs(base)
    assert TrainConfig(model="dcgan").output_dir == f"{base}-2"
    os.makedirs(f"{base}-2")
    (tmp_path / "runs" / "20261204-093015-dcgan-3").write_text("a file is taken too")
    assert TrainConfig(model="dcgan").output_dir == f"{base}-4"
    assert TrainConfig(model="wgan").output_dir == os.path.join("runs", "20261204-093015-wgan")

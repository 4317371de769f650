"""TrainConfig: every setting, its default per model, and its check."""

import os

import pytest

from anime_gan.config import TrainConfig
from anime_gan.errors import ConfigError
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
])
def test_invalid_settings_name_their_flag(settings, flag):
    with pytest.raises(ConfigError, match=f"^{flag}="):
        TrainConfig(**settings)


def test_diffaugment_defaults_per_model_and_turns_off_when_empty():
    assert TrainConfig(output_dir="x").diffaugment == "color,translation,cutout"
    assert TrainConfig(model="wgan", output_dir="x").diffaugment == ""
    assert TrainConfig(diffaugment="", output_dir="x").diffaugment == ""

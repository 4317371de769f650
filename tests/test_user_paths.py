"""Paths as a user types them: ``~`` is their home folder in every function that takes a
run folder, a network file or an export folder; a missing path is a one-line TypeError."""

import json
import os
import re

import pytest

import anime_gan
from conftest import history_epochs


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The user's home folder (``~``) is tmp_path; the working folder is another one."""
    monkeypatch.setenv("HOME", str(tmp_path))
    os.makedirs(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path


def test_a_run_folder_given_with_a_tilde_is_read_from_the_home_folder(trained_run, home):
    assert trained_run == home / "run"
    assert anime_gan.RunFolder("~/run").read_config().batch_size == 4
    generator = anime_gan.load_generator("~/run")
    network = next(name for name in ("generator_ema.keras", "generator.keras")
                   if os.path.isfile(home / "run" / name))
    assert anime_gan.load_generator(f"~/run/{network}").input_shape == generator.input_shape
    assert anime_gan.show_history("~/run") is not None

    written = anime_gan.generate_run("~/run", 2)
    assert os.path.samefile(written, home / "run" / "generated" / "seed_0")
    assert len([f for f in os.listdir(written) if f.startswith("0")]) == 2

    exported = anime_gan.export_generator(generator, "~/exported")
    assert os.path.samefile(exported, home / "exported")
    assert os.listdir(home / "elsewhere") == []  # no folder named "~" in the working folder


def test_a_run_continued_with_a_tilde_trains_with_its_own_settings(trained_run, home):
    before = json.loads((trained_run / "config.json").read_text())
    anime_gan.train(output_dir="~/run", epochs=3, live=False)
    after = json.loads((trained_run / "config.json").read_text())
    assert (after["batch_size"], after["steps_per_epoch"], after["seed"]) == (4, 1, 3)
    assert "changes" not in after and after["epochs"] == 3
    assert after["output_dir"] == str(trained_run)  # where it is, not "~/run"
    same = [name for name in before if name not in ("epochs", "output_dir")]
    assert {k: after[k] for k in same} == {k: before[k] for k in same}
    assert history_epochs(trained_run) == [1, 2, 3]


@pytest.mark.parametrize("call", [
    lambda: anime_gan.generate_run(None, 2),
    lambda: anime_gan.export_run(None),
    lambda: anime_gan.evaluate_run(None),
    lambda: anime_gan.show_history(None),
    lambda: anime_gan.load_generator(None),
])
def test_no_run_folder_is_a_type_error_naming_the_function(call):
    with pytest.raises(TypeError, match=r"^(generate_run|export_run|evaluate_run|show_history"
                                        r"|load_generator) takes a run folder.*not NoneType"):
        call()


@pytest.mark.parametrize("call", [
    lambda: anime_gan.sample(None, 2),
    lambda: anime_gan.interpolation_grid(None),
    lambda: anime_gan.export_generator(None, "export"),
])
def test_no_generator_is_a_type_error_naming_the_function(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=r"takes a generator \(a Keras model\), not NoneType"):
        call()
    assert os.listdir(tmp_path) == []


def test_a_backbone_file_given_with_a_tilde_is_read_from_the_home_folder(home):
    import keras

    from anime_gan.evaluation.backbones import load_backbone

    inputs = keras.Input((16, 16, 3))
    keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs)).save(
        home / "features.keras")
    assert load_backbone("~/features.keras") is not None
    with pytest.raises(anime_gan.ConfigError,
                       match=f"weights are not at {re.escape(str(home))}/nothing.h5"):
        load_backbone("inception", "~/nothing.h5")


def test_a_backbone_given_with_a_tilde_is_recorded_as_the_file_it_names(home):
    config = anime_gan.TrainConfig(output_dir="~/run", backbone="~/features.keras")
    assert config.backbone == str(home / "features.keras")
    inception = anime_gan.TrainConfig(backbone="inception", backbone_weights="~/weights.h5")
    assert (inception.backbone, inception.backbone_weights) == (
        "inception", str(home / "weights.h5"))

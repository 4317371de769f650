"""The run folder: its layout, its saved settings, and the checkpointed training state."""

import json
import logging
import os

import numpy as np
import pytest

from anime_gan import TrainConfig, build_gan
from anime_gan.errors import ConfigError
from anime_gan.run_folder import RunFolder, check_resumable, with_the_runs_settings
from anime_gan.run_folder.checkpoints import TrainingState
from anime_gan.sampling import fixed_latents


def test_run_saved_before_ema_existed_reads_as_without_average(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(  # the settings every run has recorded
        {"model": "dcgan", "image_size": 64, "latent_dim": 128, "batch_size": 64, "seed": 0}))
    saved = RunFolder(tmp_path).read_config()
    assert (saved.ema_decay, saved.diffaugment) == (0.0, "")  # continued without either
    default = TrainConfig(output_dir="unused")
    assert (default.ema_decay, default.diffaugment) == (0.999, "color,translation,cutout")


def test_a_run_read_from_elsewhere_is_where_its_folder_is(tmp_path, monkeypatch):
    """config.json keeps --output_dir as given (runs/a); read through the folder, the run is
    that folder, so train(RunFolder(...).read_config()) continues it from any folder."""
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    config = TrainConfig(output_dir="runs/a", backbone="nets/bb.keras",
                         backbone_weights="w.h5")
    RunFolder("runs/a").write_config(config)
    saved = json.loads((tmp_path / "project" / "runs" / "a" / "config.json").read_text())
    assert saved["output_dir"] == "runs/a"
    assert saved["backbone"] == str(tmp_path / "project" / "nets" / "bb.keras")
    monkeypatch.chdir(tmp_path)
    read = RunFolder("project/runs/a").read_config()
    assert read.output_dir == "project/runs/a"
    assert read.backbone == str(tmp_path / "project" / "nets" / "bb.keras")


def test_config_round_trips_through_the_folder(tmp_path):
    config = TrainConfig(model="wgan", epochs=3, g_lr=3e-4, output_dir=str(tmp_path / "run"))
    folder = RunFolder(config.output_dir)
    assert not folder.has_run()
    folder.write_config(config)
    assert folder.has_run() and folder.read_config() == config
    assert folder.config == str(tmp_path / "run" / "config.json")
    assert folder.generated(4) == str(tmp_path / "run" / "generated" / "seed_4")


def test_a_value_an_older_version_spelt_otherwise_is_no_change_on_resume(tmp_path, caplog):
    config = TrainConfig(model="dcgan", diffaugment="color,translation", g_lr=3e-4,
                         output_dir=str(tmp_path / "run"))
    folder = RunFolder(config.output_dir)
    folder.write_config(config)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    saved.update(diffaugment="color,, translation", data_dir="")  # as older versions wrote
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    folder.write_config(config, step=5, epoch=1)
    assert "changes" not in json.loads((tmp_path / "run" / "config.json").read_text())
    assert "other settings" not in caplog.text
    folder.write_config(config.replace(diffaugment="cutout"), step=7, epoch=2)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["changes"] == [
        {"from_step": 8, "in_epoch": 3, "settings": {"diffaugment": ["color,translation",
                                                                     "cutout"]}}]


def test_a_folder_without_a_run_is_refused_for_reading(tmp_path):
    with pytest.raises(ConfigError, match=r"--output_dir=.*: no run here \(no config.json\)"):
        RunFolder(tmp_path).read_config()


def kept_an_epoch(config):
    """A run folder with config.json and a history row: a run that kept something."""
    RunFolder(config.output_dir).write_config(config)
    with open(RunFolder(config.output_dir).history, "w") as f:
        f.write("epoch,d_loss\n1,0.5\n")


def test_check_resumable(tmp_path, caplog):
    config = TrainConfig(output_dir=str(tmp_path / "run"))
    assert check_resumable(config) is False  # nothing there yet
    RunFolder(config.output_dir).write_config(config)
    # config.json alone: stopped while its first step compiled; other settings may start,
    # and those left out are not taken from it.
    assert with_the_runs_settings({"output_dir": config.output_dir}) == {
        "output_dir": config.output_dir}
    caplog.set_level(logging.INFO)
    assert check_resumable(config.replace(latent_dim=64)) is False
    assert not RunFolder(config.output_dir).has_run()
    assert "its run stopped before it kept anything; a new run starts there" in caplog.text
    kept_an_epoch(config)
    assert check_resumable(config) is True
    with pytest.raises(ConfigError, match="--latent_dim=64: the run in .* --latent_dim=128"):
        check_resumable(TrainConfig(output_dir=config.output_dir, latent_dim=64))
    # Every setting that does not fit, in one message (a resume that left them all out).
    wgan = TrainConfig(output_dir=str(tmp_path / "wgan"), model="wgan", batch_size=4, n_critic=2)
    kept_an_epoch(wgan)
    with pytest.raises(ConfigError) as refused:
        check_resumable(TrainConfig(output_dir=wgan.output_dir))
    assert str(refused.value) == (
        f"--model=dcgan --batch_size=64: the run in {wgan.output_dir} was trained with "
        "--model=wgan --batch_size=4; resume with those, or use a new --output_dir")


def test_a_save_with_nothing_new_writes_no_second_checkpoint(tmp_path):
    """An interrupt just after an epoch's checkpoint, or just after resuming, saves
    nothing new: a copy would push an older checkpoint out of the ones kept."""
    gan = build_gan(TrainConfig(latent_dim=16, output_dir=str(tmp_path)))
    state = TrainingState(gan, fixed_latents(16, seed=1), str(tmp_path / "checkpoints"))
    gan.step_counter.assign(7)
    path = state.save()
    assert state.save() == path
    state.end_epoch()
    assert state.save().endswith("ckpt-2")
    resumed = TrainingState(build_gan(TrainConfig(latent_dim=16, output_dir=str(tmp_path))),
                            fixed_latents(16, seed=1), str(tmp_path / "checkpoints"))
    assert resumed.restore_latest().endswith("ckpt-2")
    assert resumed.save().endswith("ckpt-2")
    resumed.gan.step_counter.assign_add(1)
    assert resumed.save().endswith("ckpt-3")
    written = sorted(p.name for p in (tmp_path / "checkpoints").glob("ckpt-*.index"))
    assert written == ["ckpt-1.index", "ckpt-2.index", "ckpt-3.index"]


def test_the_checkpoint_log_counts_epochs_in_words(tmp_path, caplog):
    gan = build_gan(TrainConfig(latent_dim=16, output_dir=str(tmp_path)))
    state = TrainingState(gan, fixed_latents(16, seed=1), str(tmp_path / "checkpoints"))
    caplog.set_level(logging.INFO)
    for step in (3, 5, 9):  # saved after 0, 1 and 2 epochs
        gan.step_counter.assign(step)
        state.save()
        state.end_epoch()
    saved = [line for line in caplog.text.splitlines() if "Saved checkpoint" in line]
    assert [line.split("(")[-1] for line in saved] == [
        "0 epochs done, step 3)", "1 epoch done, step 5)", "2 epochs done, step 9)"]


def test_training_state_saves_and_restores_networks_counters_and_latents(tmp_path):
    config = TrainConfig(latent_dim=16, output_dir=str(tmp_path))
    gan = build_gan(config)
    state = TrainingState(gan, fixed_latents(16, seed=1), str(tmp_path / "checkpoints"))
    gan.step_counter.assign(7)
    state.end_epoch()
    kernel = gan.generator.get_layer("project").kernel
    kernel.assign(np.full(kernel.shape, 0.5, np.float32))
    path = state.save()

    fresh = TrainingState(build_gan(config), fixed_latents(16, seed=2),
                          str(tmp_path / "checkpoints"))
    assert fresh.restore_latest() == path
    assert fresh.step == 7 and int(fresh.epoch) == 1 and int(fresh.epoch_start_step) == 7
    np.testing.assert_array_equal(fresh.gan.generator.get_layer("project").kernel.numpy(), 0.5)
    np.testing.assert_array_equal(fresh.fixed_latents.numpy(), fixed_latents(16, seed=1))


def test_sample_grids_are_in_epoch_order_also_under_a_path_with_brackets(tmp_path):
    folder = RunFolder(tmp_path / "run [1]")
    os.makedirs(folder.samples)
    for name in ("epoch_0010.png", "epoch_0002.png", "notes.txt"):
        open(os.path.join(folder.samples, name), "w").close()
    assert [os.path.basename(p) for p in folder.sample_grids()] == ["epoch_0002.png",
                                                                    "epoch_0010.png"]


def test_a_setting_changed_to_or_from_unset_is_logged_as_unset_not_none(tmp_path, caplog):
    config = TrainConfig(cache_dir=str(tmp_path / "cache"), output_dir=str(tmp_path / "run"))
    folder = RunFolder(config.output_dir)
    folder.write_config(config)
    folder.write_config(config.replace(cache_dir=None), step=4, epoch=1)
    assert (f"other settings from step 5: --cache_dir unset (was {tmp_path / 'cache'})"
            in caplog.text)
    folder.write_config(config.replace(cache_dir=None, steps_per_epoch=7), step=6, epoch=2)
    assert "other settings from step 7: --steps_per_epoch=7 (was unset)" in caplog.text
    assert json.loads((tmp_path / "run" / "config.json").read_text())["changes"] == [
        {"from_step": 5, "in_epoch": 2,
         "settings": {"cache_dir": [str(tmp_path / "cache"), None]}},
        {"from_step": 7, "in_epoch": 3, "settings": {"steps_per_epoch": [None, 7]}}]


def test_settings_left_out_are_the_runs_own_but_not_those_another_model_ignores(tmp_path,
                                                                                 caplog):
    wgan = TrainConfig(output_dir=str(tmp_path / "wgan"), model="wgan", batch_size=4,
                       n_critic=3, gp_weight=5.0, g_lr=3e-4)
    kept_an_epoch(wgan)
    own = with_the_runs_settings({"output_dir": wgan.output_dir, "epochs": 9})
    assert (own["model"], own["batch_size"], own["n_critic"], own["gp_weight"], own["g_lr"],
            own["epochs"]) == ("wgan", 4, 3, 5.0, 3e-4, 9)
    other = with_the_runs_settings({"output_dir": wgan.output_dir, "model": "dcgan"})
    assert "n_critic" not in other and "gp_weight" not in other and other["batch_size"] == 4
    with caplog.at_level(logging.WARNING):
        config = TrainConfig(**other)  # refused by check_resumable, without a word of these
    assert caplog.text == ""
    with pytest.raises(ConfigError, match=r"^--model=dcgan: the run in .* was trained with "
                                          r"--model=wgan; resume with that value"):
        check_resumable(config)
    assert with_the_runs_settings({"output_dir": str(tmp_path / "none")}) == {
        "output_dir": str(tmp_path / "none")}


def test_a_saved_setting_that_does_not_apply_is_dropped_at_each_read_without_a_word(
        tmp_path, caplog):
    """A config.json an older version wrote with RMSProp betas: not a warning at each of a
    resume's reads of it, for a flag this command did not give."""
    config = TrainConfig(model="wgan_clip", output_dir=str(tmp_path / "run"))
    folder = RunFolder(config.output_dir)
    kept_an_epoch(config)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**saved, "g_beta1": 0.3}))
    with caplog.at_level(logging.WARNING):
        assert folder.read_config() == config and folder.read_config().g_beta1 == 0.0
        assert caplog.text == ""
        continued = TrainConfig.from_settings(
            **with_the_runs_settings({"output_dir": config.output_dir}))
    assert continued == config and caplog.text == ""
    with caplog.at_level(logging.WARNING):  # outside a read, the warning is said
        TrainConfig(model="wgan_clip", g_beta1=0.3)
    assert "--g_beta1=0.3: --optimizer=rmsprop has no betas" in caplog.text

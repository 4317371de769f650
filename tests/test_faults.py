"""Training faults: NaN losses, failed writes, damaged files, unsafe model files."""

import errno
import os
import sys

import keras
import numpy as np
import pytest

import anime_gan
from anime_gan import artifacts, cli, export
from anime_gan.config import TrainConfig
from anime_gan.faults import ArtifactWriteError, NonFiniteLossError
from conftest import AtStep
from test_resume import history_epochs, restored_state


def poison_generator_at(step):
    """A callback setting one generator kernel to NaN after ``step``, as a diverging update would."""
    def poison(model):
        kernel = model.generator.get_layer("project").kernel
        kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    return AtStep(step, poison)


def settings(image_folder, tmp_path, **overrides):
    return dict(model="dcgan", epochs=3, steps_per_epoch=2, batch_size=4,
                data_dir=image_folder, output_dir=str(tmp_path / "run"), **overrides)


def test_nan_loss_stops_naming_the_step_and_keeps_good_artifacts(image_folder, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"training stopped at step 4: .*nan"):
        anime_gan.train(callbacks=[poison_generator_at(3)],
                        **settings(image_folder, tmp_path, checkpoint_every=0))
    state = restored_state(run)
    assert state.step == 2 and int(state.epoch) == 1  # the end of epoch 1
    assert all(np.all(np.isfinite(w.numpy())) for w in state.gan.generator.weights)
    generator = keras.models.load_model(run / "generator.keras")
    assert all(np.all(np.isfinite(w.numpy())) for w in generator.weights)
    assert history_epochs(run) == [1]
    assert sorted(os.listdir(run / "samples")) == ["epoch_0001.png"]


def test_checkpoint_refuses_nan_weights(image_folder, tmp_path):
    # With a checkpoint due at the poisoned step itself, the save is refused.
    with pytest.raises(NonFiniteLossError, match="NaN or infinite at step 3; not saving"):
        anime_gan.train(callbacks=[poison_generator_at(3)],
                        **settings(image_folder, tmp_path, checkpoint_every=1))
    assert restored_state(tmp_path / "run").step == 2


def test_full_disk_while_writing_a_sample_keeps_earlier_files(image_folder, tmp_path,
                                                               monkeypatch):
    run = tmp_path / "run"
    real_save_img = keras.utils.save_img

    def save_img(path, *args, **kwargs):
        if "epoch_0002" in str(path):
            with open(path, "wb") as f:
                f.write(b"half a png")  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save_img(path, *args, **kwargs)

    monkeypatch.setattr(keras.utils, "save_img", save_img)
    with pytest.raises(ArtifactWriteError,
                       match=r"epoch_0002.png: No space left on device; the files written before"):
        anime_gan.train(**settings(image_folder, tmp_path))
    assert sorted(os.listdir(run / "samples")) == ["epoch_0001.png"]
    assert keras.utils.load_img(run / "samples" / "epoch_0001.png").size == (512, 512)
    assert not [p for _, _, files in os.walk(run) for p in files if p.startswith(".tmp")]
    assert restored_state(run).step == 2


def test_failed_checkpoint_write_is_reported(image_folder, tmp_path, monkeypatch):
    import tensorflow as tf

    def failing_save(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", failing_save)
    with pytest.raises(ArtifactWriteError, match="could not write a checkpoint .*Read-only"):
        anime_gan.train(**settings(image_folder, tmp_path))


def test_failed_export_keeps_the_earlier_export(tmp_path, monkeypatch):
    generator = anime_gan.build_generator(16, 64)
    target = tmp_path / "export"
    export.export_generator(generator, str(target))
    before = (target / "saved_model.pb").read_bytes()

    def failing_write_out(self, filepath, **kwargs):
        os.makedirs(filepath)
        raise OSError(errno.ENOSPC, "No space left on device")

    # ExportArchive() builds the backend's own archive class.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", failing_write_out)
    with pytest.raises(ArtifactWriteError, match="the earlier export is intact"):
        export.export_generator(generator, str(target))
    assert (target / "saved_model.pb").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_damaged_history_rows_are_dropped(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,d_loss,g_loss\n1,0.5,1.5\n2,0.4,1.6\n3,0.3")  # cut mid-row
    assert [row["epoch"] for row in artifacts.read_history_rows(str(path))] == ["1", "2"]
    artifacts.truncate_history(str(path), 1)
    assert path.read_text().splitlines() == ["epoch,d_loss,g_loss", "1,0.5,1.5"]


def test_cli_reports_a_training_fault_in_one_line(monkeypatch, capsys):
    def fail(config):
        raise NonFiniteLossError("training stopped at step 7: d_loss=nan")

    # anime_gan.train is also the name of the function, so patch the module itself.
    monkeypatch.setattr(sys.modules["anime_gan.train"], "train", fail)
    with pytest.raises(SystemExit) as exit_info:
        cli.run(TrainConfig(output_dir="unused"))
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: training stopped at step 7: d_loss=nan\n"


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

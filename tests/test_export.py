"""The SavedModel export: it serves without this project, and a failed write keeps the old one."""

import ctypes
import os
import re
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import anime_gan
from anime_gan import export, files
from anime_gan.errors import ArtifactWriteError, ConfigError
from anime_gan.images import to_uint8
from conftest import run_python

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


def test_failed_export_keeps_the_earlier_export(tmp_path, monkeypatch):
    generator = anime_gan.build_generator(16, 64)
    target = tmp_path / "export"
    export.export_generator(generator, str(target))
    before = (target / "saved_model.pb").read_bytes()

    def failing_write_out(self, filepath, **kwargs):
        os.makedirs(filepath)
        raise tf.errors.ResourceExhaustedError(None, None, (
            "{{function_node __wrapped__SaveV2_dtypes_43_device_/job:localhost/replica:0/"
            "task:0/device:CPU:0}} " f"{filepath}/variables; No space left on device [Op:SaveV2]"))

    # ExportArchive() builds the backend's own archive class.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", failing_write_out)
    with pytest.raises(ArtifactWriteError) as failed:
        export.export_generator(generator, str(target))
    assert re.fullmatch(rf"could not write the export {re.escape(str(target))}: \S+/variables; "
                        "No space left on device; the earlier export is intact", str(failed.value))
    assert (target / "saved_model.pb").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_export_refuses_to_replace_anything_but_an_earlier_export(tmp_path):
    """A run folder or a file given by mistake is left as it was, never deleted."""
    generator = anime_gan.build_generator(16, 64)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "history.csv").write_text("epoch,step\n1,2\n")
    network = tmp_path / "generator.keras"
    network.write_bytes(b"a saved network")
    for target in (run, network):
        with pytest.raises(ConfigError, match=f"export_generator: {re.escape(str(target))} "
                                              "exists and is not a SavedModel export"):
            export.export_generator(generator, target)
    assert (run / "history.csv").read_text() == "epoch,step\n1,2\n"
    assert network.read_bytes() == b"a saved network"
    assert sorted(os.listdir(tmp_path)) == ["generator.keras", "run"]

    empty = tmp_path / "empty"
    empty.mkdir()
    assert export.export_generator(generator, empty) == str(empty)
    assert (empty / "saved_model.pb").is_file()
    export.export_generator(generator, empty)  # an earlier export is replaced
    assert sorted(os.listdir(tmp_path)) == ["empty", "generator.keras", "run"]


def test_export_of_a_gan_writes_its_sampling_generator(tmp_path):
    generator = anime_gan.build_generator(16, 64)
    gan = anime_gan.DCGAN(generator, anime_gan.build_discriminator(), ema_decay=0.9)
    gan.ema_generator.set_weights([w * 20 for w in generator.get_weights()])
    export.export_generator(gan, tmp_path / "export")
    served = tf.saved_model.load(str(tmp_path / "export")).signatures["generate"](
        batch_size=tf.constant(2), seed=tf.constant(3))["images"].numpy()
    expected = anime_gan.sample(gan.ema_generator, 2, seed=3)
    assert np.abs(served.astype(int) - expected).max() <= 1
    assert np.abs(served.astype(int) - anime_gan.sample(generator, 2, seed=3)).max() > 1


def test_saved_model_refuses_huge_batches_and_names_latent_dim(shared_run):
    model = tf.saved_model.load(str(shared_run / "export"))
    generate, serve = model.signatures["generate"], model.signatures["serving_default"]
    assert generate(batch_size=tf.constant(2), seed=tf.constant(0))["images"].shape[0] == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size must be at most 1024"):
        generate(batch_size=tf.constant(export.MAX_BATCH + 1), seed=tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size must be >= 1"):
        generate(batch_size=tf.constant(0), seed=tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="seed must be >= 0"):
        generate(batch_size=tf.constant(2), seed=tf.constant(-1))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"latents must have shape \[N, latent_dim\] with latent_dim=128"):
        serve(latents=tf.zeros([2, 7]))
    declared = serve.structured_input_signature[1]["latents"]
    assert declared.dtype == tf.float32 and declared.shape.as_list() == [None, None]
    for wrong_rank in ([128], [2, 128, 1], [2, 1, 128], []):  # checks on the data, not folded away
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"latents must have shape \[N, latent_dim\] with latent_dim=128"):
            serve(latents=tf.zeros(wrong_rank))
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size must be >= 1"):
        serve(latents=tf.zeros([0, 128]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 1024"):
        serve(latents=tf.zeros([export.MAX_BATCH + 1, 128]))
    for bad in (np.nan, np.inf, -np.inf):
        latents = np.zeros([2, 128], np.float32)
        latents[1, 5] = bad
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="latents must be finite numbers, not NaN or infinity"):
            serve(latents=tf.constant(latents))


def test_a_run_whose_export_folder_holds_something_else_is_refused_before_any_work(
        trained_run, image_folder, tmp_path, run_cli):
    """Found before training (not after hours of it), and named as a flag, not a function."""
    new_run = tmp_path / "new"
    (new_run / "export").mkdir(parents=True)
    (new_run / "export" / "notes.txt").write_text("mine")
    result = run_cli("--model=dcgan", "--epochs=1", "--steps_per_epoch=1", "--batch_size=4",
                     f"--data_dir={image_folder}", f"--output_dir={new_run}")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: --output_dir={new_run}: {new_run / 'export'} exists and is not a SavedModel "
        "export, so it is left as it is; move it away: the run writes its generator's export "
        "there")
    assert sorted(os.listdir(new_run)) == ["export"]  # nothing trained, nothing written
    assert (new_run / "export" / "notes.txt").read_text() == "mine"

    (trained_run / "export").rename(tmp_path / "kept_export")
    (trained_run / "export").mkdir()
    (trained_run / "export" / "notes.txt").write_text("mine")
    try:
        result = run_cli("--mode=export", f"--output_dir={trained_run}")
        assert result.returncode == 2
        assert f"error: --output_dir={trained_run}: {trained_run / 'export'} exists" in result.stderr
        assert os.listdir(trained_run / "export") == ["notes.txt"]
    finally:
        (trained_run / "export" / "notes.txt").unlink()
        (trained_run / "export").rmdir()
        (tmp_path / "kept_export").rename(trained_run / "export")


def _folder(path, name):
    path.mkdir()
    (path / name).write_text(name)
    return path


def test_replace_directory_swaps_the_folders_in_one_step(tmp_path, monkeypatch):
    """On Linux the new folder is exchanged with the old one (renameat2): no moment
    without a complete folder, so no rename is needed at all."""
    if os.name != "posix" or not hasattr(ctypes.CDLL(None), "renameat2"):
        pytest.skip("no renameat2 here: two renames do")
    target, new = _folder(tmp_path / "export", "old"), _folder(tmp_path / "export.tmp", "new")

    def no_rename(*args):
        raise AssertionError("renamed in two steps")
    monkeypatch.setattr(os, "rename", no_rename)
    files.replace_directory(str(new), str(target))
    assert os.listdir(target) == ["new"]
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_replace_directory_without_an_exchange_renames_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target, new = _folder(tmp_path / "export", "old"), _folder(tmp_path / "export.tmp", "new")
    files.replace_directory(str(new), str(target))
    assert os.listdir(target) == ["new"]
    assert sorted(os.listdir(tmp_path)) == ["export"]
    files.replace_directory(str(_folder(new, "newer")), str(tmp_path / "first"))
    assert os.listdir(tmp_path / "first") == ["newer"]


def test_an_export_stopped_between_its_renames_is_put_back(tmp_path, monkeypatch):
    """A kill after the old export became export.old, before the new one took its place:
    the next export (here one that then fails) starts by putting the old one back."""
    generator = anime_gan.build_generator(16, 64)
    target = tmp_path / "export"
    export.export_generator(generator, target)
    before = (target / "saved_model.pb").read_bytes()
    os.rename(target, f"{target}.old")
    _folder(tmp_path / "export.tmp", "half-written")

    def failing_write_out(self, filepath, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", failing_write_out)
    with pytest.raises(ArtifactWriteError, match="the earlier export is intact"):
        export.export_generator(generator, target)
    assert (target / "saved_model.pb").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_training_puts_back_an_export_left_aside_by_a_kill(trained_run, run_cli, caplog):
    before = sorted(os.listdir(trained_run / "export"))
    os.rename(trained_run / "export", trained_run / "export.old")
    caplog.set_level("INFO")
    result = run_cli("--model=dcgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
                     "--seed=3", f"--output_dir={trained_run}")
    assert result.returncode == 0, result.stderr
    restored = f"Restored {trained_run / 'export'}, left at {trained_run / 'export'}.old"
    # at the start, not by the export at the end: it serves while the run trains
    assert 0 <= caplog.text.find(restored) < caplog.text.find("has finished its 2 epoch(s)")
    assert sorted(os.listdir(trained_run / "export")) == before
    assert not os.path.exists(trained_run / "export.old")

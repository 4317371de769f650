import fcntl
import json
import logging
import os
import pathlib
import shutil
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from anime_gan.data import file_cache
from anime_gan.data import pipeline as data
from anime_gan.errors import DataError
from anime_gan.images import to_float, to_uint8
from conftest import run_python, write_image

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def solid(height, width, colour):
    return np.full((height, width, len(colour)), colour, np.uint8)


@pytest.fixture
def mixed_folder(tmp_path):
    """Mixed sizes and formats, nested, with upper-case extensions and a non-image."""
    root = tmp_path / "mixed"
    # Wide image: blue | red | green thirds; the centre crop is all red.
    wide = np.concatenate([solid(60, 60, BLUE), solid(60, 60, RED), solid(60, 60, GREEN)], 1)
    write_image(str(root / "wide.jpg"), wide, quality=100)
    write_image(str(root / "sub" / "grey.png"), np.full((30, 50), 128, np.uint8))
    write_image(str(root / "sub" / "deeper" / "rgba.PNG"), solid(64, 64, RED + (0,)))
    write_image(str(root / "large.bmp"), solid(300, 200, GREEN))
    frames = [Image.fromarray(solid(16, 16, BLUE)), Image.fromarray(solid(16, 16, RED))]
    frames[0].save(str(root / "anim.GIF"), save_all=True, append_images=frames[1:])
    (root / "notes.txt").write_text("not an image")
    return str(root)


def test_list_image_files_is_recursive_sorted_and_case_insensitive(mixed_folder):
    names = [os.path.relpath(p, mixed_folder) for p in data.list_image_files(mixed_folder)]
    assert names == ["anim.GIF", "large.bmp", "wide.jpg", "sub/grey.png", "sub/deeper/rgba.PNG"]


def test_a_file_name_that_is_not_utf8_is_read_like_any_other(tmp_path):
    """Names from an old zip may be Latin-1 bytes: Python holds them with surrogates,
    which TensorFlow's strings refused (a ValueError listing every path)."""
    root = tmp_path / "faces"
    write_image(str(root / "plain.png"), solid(8, 8, RED))
    latin1 = os.path.join(os.fsencode(root), b"caf\xe9.png")
    write_image(str(root / "tmp.png"), solid(8, 8, BLUE))
    os.rename(root / "tmp.png", latin1)
    images, count = data.folder_images(str(root), 8)
    colours = sorted(tuple(int(c) for c in image[0, 0]) for image in images.as_numpy_iterator())
    assert count == 2 and colours == [BLUE, RED]


def test_reads_both_kaggle_layouts(image_folder):
    paths = data.list_image_files(image_folder)
    assert sum("/images/" in p for p in paths) == 12
    assert sum("/data/data/" in p for p in paths) == 12


def test_folder_images_decoded_cropped_resized(mixed_folder):
    images, count = data.folder_images(mixed_folder, 64)
    decoded = {os.path.basename(p): img.numpy() for p, img in
               zip(data.list_image_files(mixed_folder), images)}
    assert count == 5
    for image in decoded.values():
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(decoded["wide.jpg"][8:-8, 8:-8], np.broadcast_to(RED, (48, 48, 3)),
                               atol=8)
    assert np.all(decoded["grey.png"] == 128)
    assert np.all(decoded["rgba.PNG"] == RED)       # alpha dropped
    assert np.all(decoded["large.bmp"] == GREEN)
    assert np.all(decoded["anim.GIF"] == BLUE)      # first frame


def test_center_crop_of_tall_image_keeps_middle():
    tall = np.concatenate([solid(40, 40, BLUE), solid(40, 40, RED), solid(40, 40, GREEN)], 0)
    out = data.center_crop_and_resize(tf.constant(tall), 20).numpy()
    assert out.shape == (20, 20, 3)
    assert np.all(out == RED)


def test_scaling_round_trip():
    pixels = tf.constant([[0, 127, 128, 255]], tf.uint8)
    floats = to_float(pixels).numpy()
    np.testing.assert_allclose(floats, [[-1.0, 127 / 127.5 - 1, 128 / 127.5 - 1, 1.0]], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(to_uint8(floats)), pixels.numpy())


def test_pipeline_batches_in_range_and_drops_remainder(image_folder):
    dataset, count = data.make_dataset(64, batch_size=5, data_dir=image_folder)
    batches = list(dataset)
    assert count == 24
    assert len(batches) == 4 == dataset.cardinality()  # 24 // 5, the last 4 images dropped
    for batch in batches:
        assert batch.shape == (5, 64, 64, 3) and batch.dtype == tf.float32
        assert -1.0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 1.0


def test_make_dataset_expands_a_home_folder_as_train_does(image_folder, monkeypatch):
    monkeypatch.setenv("HOME", os.path.dirname(image_folder))
    _, count = data.make_dataset(64, batch_size=5, data_dir="~/" + os.path.basename(image_folder))
    assert count == 24


def test_make_dataset_takes_one_source_as_train_does(image_folder):
    from anime_gan import ConfigError

    with pytest.raises(ConfigError, match="give either data_dir or dataset, not both"):
        data.make_dataset(64, batch_size=5, data_dir=image_folder, dataset="tfds:mnist")
    for empty in (dict(data_dir=""), dict(dataset=" ")):
        with pytest.raises(ConfigError, match=r"=' ?' is empty \(an unset variable\?\)"):
            data.make_dataset(64, batch_size=5, **empty)


def test_pipeline_groups_batches_for_wgan_steps(image_folder):
    dataset, _ = data.make_dataset(64, batch_size=4, data_dir=image_folder, batches_per_step=3)
    batches = list(dataset)
    assert len(batches) == 2 == dataset.cardinality()  # 6 batches of 4 = 2 steps of 3
    assert batches[0].shape == (4, 3, 64, 64, 3)  # [batch, critic batch, ...]


def test_pipeline_shuffles_by_seed(image_folder):
    def first_batch(seed):
        dataset, _ = data.make_dataset(64, batch_size=8, data_dir=image_folder, seed=seed)
        return next(iter(dataset)).numpy()
    np.testing.assert_array_equal(first_batch(1), first_batch(1))
    assert not np.array_equal(first_batch(1), first_batch(2))


def test_dataset_smaller_than_one_step_is_refused(image_folder):
    with pytest.raises(ValueError, match="24 images.*batch_size=32"):
        data.make_dataset(64, batch_size=32, data_dir=image_folder)


def test_empty_and_missing_folders_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no usable images"):
        data.list_image_files(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="no such folder"):
        data.list_image_files(str(tmp_path / "missing"))


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_tfds_image_feature_found_and_converted_to_rgb(name, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from anime_gan.data import network

    monkeypatch.setattr(network, "check_online", lambda name: None)  # mock_data downloads none
    with tfds.testing.mock_data(num_examples=6):
        images, count = data.tfds_images(name, 64)
        batch = list(images)
    assert count == 6
    assert all(image.shape == (64, 64, 3) and image.dtype == tf.uint8 for image in batch)


def test_unknown_tfds_name_fails_clearly():
    with pytest.raises(ValueError, match="--dataset=tfds:no_such_data_set_xyz: not a TensorFlow"):
        data.tfds_images("no_such_data_set_xyz", 64)


def test_stream_started_at_step_k_continues_the_same_sequence(image_folder):
    """Steps cross pass boundaries (24 images, 10 per step) and still line up."""
    stream = data.make_stream(64, batch_size=5, data_dir=image_folder, seed=3,
                              batches_per_step=2)
    from_start = [b.numpy() for b in stream.batches(0).take(7)]
    from_four = [b.numpy() for b in stream.batches(4).take(3)]
    assert from_start[0].shape == (5, 2, 64, 64, 3)
    for a, b in zip(from_start[4:], from_four):
        np.testing.assert_array_equal(a, b)
    # Each pass is a new order of all the images.
    images = np.concatenate([b.swapaxes(0, 1).reshape(-1, 64, 64, 3) for b in from_start])
    first, second = images[:24], images[24:48]
    assert not np.array_equal(first, second)
    assert sorted(map(bytes, first)) == sorted(map(bytes, second))


def test_every_iterator_of_a_stream_gives_the_same_batches(image_folder):
    """Keras's fit under a distribution strategy opens one iterator to look at a batch,
    then trains on another: both must start the same sequence."""
    tf.random.set_seed(0)  # as train() does for --seed=0 (a global seed of 0 is a special case)
    batches = data.make_stream(64, batch_size=5, data_dir=image_folder, seed=0).batches()
    first = [b.numpy() for b in batches.take(11)]  # more than two passes of 24 images
    second = [b.numpy() for b in batches.take(11)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


FIT_UNDER_A_STRATEGY = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from anime_gan.data import pipeline

class Recorder(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, images):
        return self.dense(tf.reshape(images, [-1, 64 * 64 * 3]))

    def train_step(self, images):
        total = tf.reduce_sum(images)
        replica = tf.distribute.get_replica_context()
        self.seen.assign(replica.all_reduce("sum", total) if replica else total)
        return {"total": total}

def first_step_sum(strategy):
    stream = pipeline.make_stream(64, batch_size=4, data_dir=sys.argv[1], seed=3)
    with strategy.scope():
        model = Recorder()
        model.compile()
    model.fit(stream.batches(), epochs=1, steps_per_epoch=1, verbose=0)
    return float(model.seen.numpy())

expected = float(tf.reduce_sum(next(iter(pipeline.make_stream(
    64, batch_size=4, data_dir=sys.argv[1], seed=3).batches()))))
print(json.dumps([expected, first_step_sum(tf.distribute.get_strategy()),
                  first_step_sum(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]))
"""


@pytest.mark.slow
def test_fit_under_a_mirrored_strategy_trains_on_the_streams_first_batch(image_folder):
    result = run_python(["-c", FIT_UNDER_A_STRATEGY, str(image_folder)])
    assert result.returncode == 0, result.stderr[-3000:]
    expected, one_device, mirrored = json.loads(result.stdout.strip().splitlines()[-1])
    assert one_device == pytest.approx(expected, rel=1e-6)
    assert mirrored == pytest.approx(expected, rel=1e-6)


def _cache_prefix(cache):
    return str(next(cache.glob("images-64px-*.index")))[:-len(".index")]


def test_a_cache_lock_file_left_by_a_killed_run_is_taken_over(image_folder, tmp_path, caplog):
    cache = tmp_path / "cache"
    cache.mkdir()
    data.folder_images(image_folder, 64, cache_dir=str(cache))
    prefix = _cache_prefix(cache)
    for path in cache.glob("images-64px-*"):  # killed while filling: only its lock file
        path.unlink()
    pathlib.Path(prefix + "_0.lockfile").write_text("")
    images, count = data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert count == 24 and len(list(images)) == 24
    assert "Removed the cache lock file" in caplog.text
    assert not list(cache.glob("*.lockfile"))


def test_a_damaged_cache_is_filled_again(image_folder, tmp_path, caplog):
    cache = tmp_path / "cache"
    first, _ = data.folder_images(image_folder, 64, cache_dir=str(cache))
    first = np.stack(list(first.as_numpy_iterator()))
    data_file = next(cache.glob("images-64px-*.data-*"))
    with open(data_file, "r+b") as f:
        f.truncate(os.path.getsize(data_file) // 3)
    index = next(cache.glob("images-64px-*.index"))
    os.utime(index, (1, 1))  # filled long ago: the refill gives the index another time
    caplog.clear()
    caplog.set_level(logging.INFO, logger="anime_gan.data")
    again, count = data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert count == 24
    np.testing.assert_array_equal(np.stack(list(again.as_numpy_iterator())), first)
    assert "does not read back" in caplog.text and "filling it again" in caplog.text
    assert any(m.startswith("Cached 24 images in") for m in caplog.messages)  # not "Read"


def test_a_cache_that_cannot_be_written_is_one_line(image_folder, tmp_path, monkeypatch):
    def full_disk():
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device\nmore")

    monkeypatch.setattr(file_cache, "_read_or_refill", lambda read_through, path: full_disk())
    with pytest.raises(DataError, match=r"^--cache_dir=.*: could not write the cache .*images-64px-"
                                        r".* \(No space left on device\); free some space"):
        data.folder_images(image_folder, 64, cache_dir=str(tmp_path / "cache"))


def test_disk_cache_is_filled_once_and_reused(image_folder, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "cache"
    caplog.set_level(logging.INFO, logger="anime_gan.data")
    images, count = data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert count == 24
    assert [m.split(" under ")[0] for m in caplog.messages if " under " in m] == [
        "Decoding 24 images"]
    assert any(name.startswith("images-64px-") and name.endswith(".index")
               for name in os.listdir(cache))
    first = np.stack(list(images.as_numpy_iterator()))

    # Were the files decoded again, every image would now be black.
    monkeypatch.setattr(data, "decode_image_file",
                        lambda path, size: tf.zeros((size, size, 3), tf.uint8))
    caplog.clear()
    again, _ = data.folder_images(image_folder, 64, cache_dir=str(cache))
    np.testing.assert_array_equal(np.stack(list(again.as_numpy_iterator())), first)
    assert first.any()
    assert [m.split(" under ")[0] for m in caplog.messages if " under " in m] == [
        "Reading the 24 images"] and any(m.startswith("Read 24 images in") for m in caplog.messages)

    # Another image size is another cache.
    data.folder_images(image_folder, 128, cache_dir=str(cache))
    assert any(name.startswith("images-128px-") for name in os.listdir(cache))


def test_a_run_waiting_while_another_fills_the_cache_reads_what_it_wrote(
        image_folder, tmp_path, monkeypatch, caplog):
    """Another run fills the cache meanwhile (here: its files copied in while the lock is
    held): this one waits, then reads them, and says so instead of 'Decoding'/'Cached'."""
    filled_elsewhere = tmp_path / "elsewhere"
    first, _ = data.folder_images(image_folder, 64, cache_dir=str(filled_elsewhere))
    first = np.stack(list(first.as_numpy_iterator()))
    cache = tmp_path / "cache"
    cache.mkdir()
    name = os.path.basename(_cache_prefix(filled_elsewhere))
    lock = open(cache / f"{name}.anime_gan-lock", "a")
    fcntl.flock(lock, fcntl.LOCK_EX)

    def other_run_fills_it():  # once this run waits for it, however slow the machine
        deadline = time.monotonic() + 120
        while (not any(m.startswith("Waiting") for m in caplog.messages)
               and time.monotonic() < deadline):
            time.sleep(0.02)
        for path in filled_elsewhere.glob(f"{name}.*"):
            if not path.name.endswith("lock"):
                shutil.copy(path, cache / path.name)
        fcntl.flock(lock, fcntl.LOCK_UN)
    other = threading.Thread(target=other_run_fills_it)
    monkeypatch.setattr(data, "decode_image_file",  # decoded here, they would be black
                        lambda path, size: tf.zeros((size, size, 3), tf.uint8))
    caplog.set_level(logging.INFO)
    other.start()
    try:
        images, count = data.folder_images(image_folder, 64, cache_dir=str(cache))
    finally:
        other.join()
        lock.close()
    np.testing.assert_array_equal(np.stack(list(images.as_numpy_iterator())), first)
    messages = [m.split(" under ")[0].split(" in ")[0] for m in caplog.messages
                if "cache" in m or m.startswith(("Read ", "Cached "))]
    assert messages == [f"Waiting for another run to finish filling the cache {cache / name}",
                        "Reading the 24 images", "Read 24 images"]


def test_a_cache_folder_inside_the_data_folder_is_not_reported_as_bad_images(
        image_folder, caplog):
    cache = pathlib.Path(image_folder) / "cache"
    first, count = data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert count == 24 and len(list(cache.iterdir())) >= 3
    caplog.clear()
    again, count = data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert count == 24
    assert not [m for m in caplog.messages if m.startswith("Skipped")]
    (cache / "notes.txt").write_text("mine")  # anything else there is still reported
    data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert any(m.startswith("Skipped 1 file(s): not an image") for m in caplog.messages)


def test_a_new_cache_beside_older_ones_says_what_they_take(image_folder, tmp_path, caplog):
    """One cache a version of the data (an image added): the older ones are named, not
    deleted (another run may read them)."""
    cache = tmp_path / "cache"
    data.folder_images(image_folder, 64, cache_dir=str(cache))
    assert "other cache(s)" not in caplog.text
    write_image(os.path.join(image_folder, "added.png"), np.zeros((64, 64, 3), np.uint8))
    caplog.clear()
    caplog.set_level(logging.INFO, logger="anime_gan.data")
    data.folder_images(image_folder, 64, cache_dir=str(cache))
    message, = [m for m in caplog.messages if "other cache(s)" in m]
    older = min(cache.glob("*.data-*"), key=lambda p: p.stat().st_size)  # 24 images, not 25
    assert message == (f"{cache} also holds 1 other cache(s) of {older.stat().st_size / 1e6:.1f}"
                       " MB (other data, image sizes, or earlier versions of this data): "
                       "delete the ones no run reads")
    assert len(list(cache.glob("*.index"))) == 2
    caplog.clear()
    data.folder_images(image_folder, 64, cache_dir=str(cache))  # read, not filled: no word
    assert "other cache(s)" not in caplog.text

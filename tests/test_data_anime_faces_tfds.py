"""The ``anime_faces`` TFDS builder, on tiny dummy downloads made here.

Each manual folder holds good images plus files the builder must skip and count:
a text file, an empty file, a truncated JPEG, and a JPEG whose header and end
look right but whose data is garbage (only a decode finds it).
"""

import io
import json
import logging
import os
import pathlib
import shutil
import socket
import tempfile
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from anime_gan import TrainConfig, cli, evaluation
from anime_gan.data import anime_faces_tfds, folder_walk, network
from anime_gan.data import pipeline as data
from anime_gan.errors import DataError
from anime_gan.evaluation import features
from conftest import REPO_ROOT, run_main, run_python

SKIPPED = {"empty file": 1, "not an image (unknown content)": 1, "truncated JPEG": 1,
           "undecodable (corrupt image data)": 1}
CROPS = ["0.jpg", "1.jpg", "2.jpg", "3_grey.jpg", "4_rgba.png"]  # the usable crops
FACES64 = ["0.png", "1.png", "2.png"]  # the usable 64x64 faces


def _encoded(array, format):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format)
    return buffer.getvalue()


def crops_files():
    """{relative path: bytes} of a small ``splcher/animefacedataset`` download."""
    rng = np.random.default_rng(0)
    files = {f"images/{i}.jpg": _encoded(rng.integers(0, 256, (20 + 3 * i, 24 + i, 3),
                                                      dtype=np.uint8), "JPEG")
             for i in range(3)}
    files["images/3_grey.jpg"] = _encoded(rng.integers(0, 256, (16, 16), dtype=np.uint8), "JPEG")
    files["images/4_rgba.png"] = _encoded(rng.integers(0, 256, (18, 18, 4), dtype=np.uint8), "PNG")
    good = files["images/0.jpg"]
    files["images/cut.jpg"] = good[:len(good) // 2]  # truncated
    files["images/garbage.jpg"] = good[:4] + bytes(200) + good[-2:]  # only a decode finds it
    files["images/empty.jpg"] = b""
    files["images/readme.txt"] = b"not an image"
    return files


def faces64_files():
    """{relative path: bytes} of a small ``soumikrakshit/anime-faces`` download."""
    rng = np.random.default_rng(1)
    files = {f"data/data/{i}.png": _encoded(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                                            "PNG") for i in range(3)}
    files["data/data/notes.txt"] = b"hello"
    return files


def write_tree(root, files):
    for name, content in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)


def write_zip(path, files, top=""):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(top + name, content)


def extracted_manual_dir(root):
    """Both sets extracted: images/ at the top, data/data/ one folder down."""
    write_tree(root, crops_files())
    write_tree(os.path.join(root, "anime-faces"), faces64_files())
    return root


def zipped_manual_dir(root):
    """Both sets as Kaggle gives them: the website's archive.zip, the CLI's NAME.zip,
    next to a zip of something else and a stray file."""
    os.makedirs(root, exist_ok=True)
    write_zip(os.path.join(root, "archive.zip"), crops_files())
    write_zip(os.path.join(root, "anime-faces.zip"), faces64_files())
    write_zip(os.path.join(root, "other.zip"), {"docs/a.csv": b"1,2"})
    write_tree(root, {"notes.txt": b"my notes"})
    return root


class _ManualDirTestCase(tfds.testing.DatasetBuilderTestCase):
    """TFDS's own builder checks, with the manual folder made by ``MAKE``."""

    DATASET_CLASS = anime_faces_tfds.AnimeFaces
    SKIP_CHECKSUMS = True
    MAKE = None

    @classmethod
    def setUpClass(cls):
        cls.EXAMPLE_DIR = cls.MAKE(tempfile.mkdtemp(prefix="anime_faces_manual_"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.EXAMPLE_DIR, ignore_errors=True)


class CropsExtractedTest(_ManualDirTestCase):
    MAKE = staticmethod(extracted_manual_dir)
    BUILDER_CONFIG_NAMES_TO_TEST = ["crops"]
    SPLITS = {"train": len(CROPS)}


class CropsZippedTest(_ManualDirTestCase):
    MAKE = staticmethod(zipped_manual_dir)
    BUILDER_CONFIG_NAMES_TO_TEST = ["crops"]
    SPLITS = {"train": len(CROPS)}


class Faces64ExtractedTest(_ManualDirTestCase):
    MAKE = staticmethod(extracted_manual_dir)
    BUILDER_CONFIG_NAMES_TO_TEST = ["64px"]
    SPLITS = {"train": len(FACES64)}


class Faces64ZippedTest(_ManualDirTestCase):
    MAKE = staticmethod(zipped_manual_dir)
    BUILDER_CONFIG_NAMES_TO_TEST = ["64px"]
    SPLITS = {"train": len(FACES64)}


del _ManualDirTestCase  # not a test itself


# --- Behaviour beyond TFDS's generic checks ------------------------------------------

def prepare(name, tmp_path, manual_dir, data_dir="tfds"):
    builder = tfds.builder(name, data_dir=str(tmp_path / data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def examples(builder):
    return [(ex["file_name"].decode(), ex["image"])
            for ex in tfds.as_numpy(builder.as_dataset(split="train"))]


def test_images_other_than_rgb_are_stored_as_their_rgb_pixels():
    """Grey, 16-bit grey (Pillow's RGB conversion clips it to white), RGBA and palette."""
    levels = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 256 + 255
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    cases = {"grey16": (Image.fromarray(levels), np.repeat((levels >> 8)[..., None], 3, -1)),
             "grey": (Image.fromarray(rgb[..., 0]), np.repeat(rgb[..., :1], 3, -1)),
             "rgba": (Image.fromarray(np.dstack([rgb, rgb[..., :1]])), rgb)}
    palette = Image.fromarray(rgb).convert("P")
    cases["palette"] = (palette, np.asarray(palette.convert("RGB")))
    for name, (image, expected) in cases.items():
        encoded = io.BytesIO()
        image.save(encoded, format="PNG")
        stored = anime_faces_tfds._decoded_image(encoded.getvalue())
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(stored))), expected,
                                      err_msg=name)


def test_registered_on_import_with_two_configs_crops_by_default():
    builder_cls = tfds.builder_cls("anime_faces")
    assert builder_cls is anime_faces_tfds.AnimeFaces
    assert list(builder_cls.builder_configs) == ["crops", "64px"]
    assert builder_cls.DEFAULT_BUILDER_CONFIG_NAME == "crops"
    for config in builder_cls.builder_configs.values():  # each config says what it needs
        assert config.kaggle in builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS
        assert f"{config.folder}/" in config.instructions


@pytest.mark.parametrize("make", [extracted_manual_dir, zipped_manual_dir])
def test_crops_images_names_and_skipped_counts(make, tmp_path, caplog):
    manual = make(str(tmp_path / "manual"))
    with caplog.at_level(logging.WARNING, logger="anime_gan.data.anime_faces_tfds"):
        builder = prepare("anime_faces", tmp_path, manual)
    assert builder.info.full_name == "anime_faces/crops/1.0.0"
    found = dict(examples(builder))
    assert sorted(found) == CROPS
    assert found["0.jpg"].shape == (20, 24, 3) and found["2.jpg"].shape == (26, 26, 3)
    assert found["3_grey.jpg"].shape == (16, 16, 3)  # grey and RGBA stored as RGB
    assert found["4_rgba.png"].shape == (18, 18, 3)
    assert builder.info.metadata["skipped"] == SKIPPED
    assert builder.info.metadata["skipped_examples"]["truncated JPEG"] == ["cut.jpg"]
    message, = [r.getMessage() for r in caplog.records]
    assert message.startswith("anime_faces/crops: skipped 4 of 9 files: 1 empty file, e.g. "
                              "empty.jpg; 1 not an image (unknown content), e.g. readme.txt;")
    # The counts are saved with the prepared data set.
    with open(os.path.join(builder.data_dir, "metadata.json")) as f:
        assert json.load(f)["skipped"] == SKIPPED


def test_scan_follows_each_linked_folder_once(tmp_path):
    """A link back up (images/again -> .) is no endless loop, nor every file many times."""
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(images / name)
    (images / "again").symlink_to(images)
    (images / "sub" / "up").symlink_to(images)
    (tmp_path / "elsewhere").mkdir()
    Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(tmp_path / "elsewhere" / "c.png")
    (images / "linked").symlink_to(tmp_path / "elsewhere")
    usable, skipped = anime_faces_tfds.scan(images)
    assert usable == ["a.png", "linked/c.png", "sub/b.png"] and skipped == {}
    # A second name of a file, and a run folder, are skipped by relative path as the rest.
    (images / "sub" / "b_again.png").symlink_to(images / "sub" / "b.png")
    (images / "run" / "samples").mkdir(parents=True)
    (images / "run" / "config.json").write_text("{}")
    usable, skipped = anime_faces_tfds.scan(images)
    assert usable == ["a.png", "linked/c.png", "sub/b.png"]
    assert skipped == {folder_walk.SAME_FILE: ["sub/b_again.png"],
                       folder_walk.RUN_FOLDER: ["run"]}


def test_making_and_preparing_the_builder_leaves_nothing_in_the_temporary_folder(
        tmp_path, monkeypatch):
    scratch = tmp_path / "system_tmp"  # stands for /tmp, which other tests share
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    manual = zipped_manual_dir(str(tmp_path / "manual"))
    builder = prepare("anime_faces/64px", tmp_path, manual)  # made before it is prepared
    tfds.builder("anime_faces/64px", data_dir=str(tmp_path / "other"))  # never prepared
    assert len(examples(builder)) == len(FACES64)
    assert os.listdir(scratch) == []


def test_64px_config_from_the_shared_zipped_folder(tmp_path):
    builder = prepare("anime_faces/64px", tmp_path, zipped_manual_dir(str(tmp_path / "m")))
    found = examples(builder)
    assert sorted(name for name, _ in found) == FACES64
    assert all(image.shape == (64, 64, 3) for _, image in found)
    assert builder.info.metadata["skipped"] == {"not an image (unknown content)": 1}
    assert builder.info.metadata["source"].endswith("anime-faces.zip")


def test_order_is_deterministic_and_the_same_from_zip_or_folder(tmp_path):
    zipped = examples(prepare("anime_faces", tmp_path, zipped_manual_dir(str(tmp_path / "z")),
                              data_dir="a"))
    extracted = examples(prepare("anime_faces", tmp_path,
                                 extracted_manual_dir(str(tmp_path / "e")), data_dir="b"))
    assert [n for n, _ in zipped] == [n for n, _ in extracted]
    for (_, a), (_, b) in zip(zipped, extracted):
        np.testing.assert_array_equal(a, b)


def test_missing_or_empty_manual_folder_is_one_line(tmp_path):
    for manual in (tmp_path / "absent", tmp_path / "empty"):
        if manual.name == "empty":
            manual.mkdir()
        with pytest.raises(DataError) as error:
            prepare("anime_faces/64px", tmp_path, manual)
        assert str(error.value) == (
            f"anime_faces/64px: the manual download folder {manual} is missing or empty. "
            "Download the Kaggle data set soumikrakshit/anime-faces "
            "(https://www.kaggle.com/datasets/soumikrakshit/anime-faces; the website's "
            "Download button, or `kaggle datasets download -d soumikrakshit/anime-faces`) "
            f"and put the zip, whatever its name, in {manual}, or unzip it there: the folder "
            "data/data/ (64x64 PNGs) may sit in the manual folder or one subfolder below it.")


def test_zip_of_something_else_says_what_was_expected_and_found(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    write_zip(str(manual / "archive.zip"), faces64_files())  # the other data set
    write_zip(str(manual / "x.zip"), {"a.txt": b"a"})
    (manual / "photos").mkdir()
    whole = (manual / "archive.zip").read_bytes()
    (manual / "cut.zip").write_bytes(whole[:len(whole) // 2])  # an interrupted download
    with pytest.raises(DataError) as error:
        prepare("anime_faces", tmp_path, manual)
    assert str(error.value) == (
        f"anime_faces/crops: no download of the Kaggle data set splcher/animefacedataset in "
        f"{manual}: expected its zip (any name, holding images/) or the extracted folder "
        f"images/ (JPEGs); found archive.zip (a zip of data/); cut.zip (not a zip, or one cut "
        f"short); photos/ (no images/ inside) and 1 more")


def test_no_usable_image_is_one_line(tmp_path):
    manual = tmp_path / "manual"
    write_tree(str(manual), {"images/a.txt": b"text", "images/b.jpg": b""})
    with pytest.raises(DataError, match=r"^anime_faces/crops: none of the 2 files in .*images "
                                        r"is a usable image \(1 empty file, e\.g\. b\.jpg; "):
        prepare("anime_faces", tmp_path, manual)


def test_a_zip_replaced_under_the_same_name_is_extracted_again(tmp_path):
    """Kaggle names every download archive.zip: after a bad one, the good one is read."""
    manual = tmp_path / "manual"
    manual.mkdir()
    garbage = {f"images/{i}.jpg": b"not a jpeg" for i in range(3)}
    write_zip(str(manual / "archive.zip"), garbage)
    with pytest.raises(DataError, match="is a usable image"):
        prepare("anime_faces", tmp_path, manual)
    (manual / "archive.zip").unlink()
    write_zip(str(manual / "archive.zip"), crops_files())
    os.utime(manual / "archive.zip", (1, 1))  # moved in with an old time: the size differs
    builder = prepare("anime_faces", tmp_path, manual)
    assert sorted(name for name, _ in examples(builder)) == sorted(CROPS)


# --- Through the project's pipeline and command line --------------------------------

def test_pipeline_reads_the_builder_from_tfds_data_dir(tmp_path):
    manual = zipped_manual_dir(str(tmp_path / "tfds" / "downloads" / "manual"))
    assert os.path.isdir(manual)
    images, count = data.load_images(64, dataset="tfds:anime_faces/64px",
                                     tfds_data_dir=str(tmp_path / "tfds"))
    assert count == len(FACES64)
    batch = next(iter(images.batch(8))).numpy()
    assert batch.shape == (3, 64, 64, 3) and batch.dtype == np.uint8
    # The default config, from the same folder, at 128 px.
    images, count = data.load_images(128, dataset="tfds:anime_faces",
                                     tfds_data_dir=str(tmp_path / "tfds"))
    assert count == len(CROPS)
    assert next(iter(images)).shape == (128, 128, 3)


def test_a_tfds_cache_in_cache_dir_is_filled_up_front_and_repaired(tmp_path, caplog):
    """As a folder's: filled (or read) before training, filled again when damaged, and a
    TensorFlow lock file left by a killed run is no crash."""
    zipped_manual_dir(str(tmp_path / "tfds" / "downloads" / "manual"))
    cache = tmp_path / "cache"
    caplog.set_level(logging.INFO, logger="anime_gan.data")

    def load():
        caplog.clear()
        images, count = data.load_images(64, dataset="tfds:anime_faces/64px",
                                         tfds_data_dir=str(tmp_path / "tfds"),
                                         cache_dir=str(cache))
        assert count == len(FACES64)
        return np.stack(list(images.as_numpy_iterator()))

    first = load()
    assert [m.split(" into ")[0] for m in caplog.messages if "the cache" in m] == [
        f"Decoding {len(FACES64)} images of tfds:anime_faces/64px"]
    np.testing.assert_array_equal(load(), first)
    assert any(m.startswith(f"Reading the {len(FACES64)} images of tfds:anime_faces/64px "
                            "from the cache") for m in caplog.messages)
    data_file, = cache.glob("tfds-*.data-*")
    with open(data_file, "r+b") as f:
        f.truncate(os.path.getsize(data_file) // 2)
    np.testing.assert_array_equal(load(), first)
    assert "does not read back" in caplog.text
    index, = cache.glob("tfds-*.index")
    for path in cache.glob("tfds-*"):
        if not path.name.endswith("lock"):
            path.unlink()
    pathlib.Path(str(index)[:-len(".index")] + "_0.lockfile").write_text("")
    np.testing.assert_array_equal(load(), first)
    assert "Removed the cache lock file" in caplog.text


def test_a_tfds_data_set_to_download_says_so_before_trying(tmp_path, monkeypatch, caplog):
    """A download that fails after TFDS's retries: the user knew what was going on."""
    def offline(self, *args, **kwargs):
        raise ConnectionError("Max retries exceeded with url")
    monkeypatch.setattr(network, "check_online", lambda name: None)  # the host answers
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    caplog.set_level(logging.INFO, logger="anime_gan.data")
    with pytest.raises(DataError, match=r"^--dataset=tfds:mnist: could not download or prepare "
                                        r"it \(Max retries exceeded with url\)"):
        data.tfds_images("mnist", 64, data_dir=str(tmp_path))
    assert (f"--dataset=tfds:mnist is not prepared in {tmp_path}: TensorFlow Datasets downloads "
            "it now") in caplog.text
    caplog.clear()
    zipped_manual_dir(str(tmp_path / "downloads" / "manual"))  # a manual download: no network
    monkeypatch.undo()
    data.tfds_images("anime_faces/64px", 64, data_dir=str(tmp_path))
    assert "downloads it now" not in caplog.text


def test_a_tfds_data_set_to_download_without_a_network_is_refused_at_once(tmp_path,
                                                                         monkeypatch):
    """TFDS would retry for minutes; a host that cannot be reached is said at once."""
    def unreachable(address, timeout=None):
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        lambda *a, **k: pytest.fail("tried to download"))
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DataError, match=r"^--dataset=tfds:mnist: is not prepared, and it cannot "
                                        r"be downloaded: storage.googleapis.com cannot be "
                                        r"reached \(Name or service not known\)"):
        data.tfds_images("mnist", 64, data_dir=str(tmp_path))
    # Behind a proxy the download is left to try.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        lambda *a, **k: (_ for _ in ()).throw(ConnectionError("via the proxy")))
    with pytest.raises(DataError, match=r"could not download or prepare it \(via the proxy\)"):
        data.tfds_images("mnist", 64, data_dir=str(tmp_path))


@pytest.mark.parametrize("name, message", [
    ("anime_faces/nope", "--dataset=tfds:anime_faces/nope: anime_faces has no config 'nope'; "
                         "expected one of crops, 64px"),
    ("anime_facez", "--dataset=tfds:anime_facez: not a TensorFlow Datasets data set here"),
])
def test_unknown_name_or_config_is_one_line(name, message, tmp_path):
    with pytest.raises(DataError) as error:
        data.tfds_images(name, 64, data_dir=str(tmp_path))
    assert str(error.value) == message


@pytest.mark.long
def test_cli_missing_manual_folder_exits_2_in_one_line(tmp_path):
    result = run_main("--dataset=tfds:anime_faces", f"--tfds_data_dir={tmp_path / 'tfds'}",
                      f"--output_dir={tmp_path / 'run'}", "--epochs=1")
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    manual = tmp_path / "tfds" / "downloads" / "manual"
    assert errors == [
        f"error: --dataset=tfds:anime_faces/crops: the manual download folder "
        f"{manual} is missing or empty. Download the Kaggle data set splcher/animefacedataset "
        f"(https://www.kaggle.com/datasets/splcher/animefacedataset; the website's Download "
        f"button, or `kaggle datasets download -d splcher/animefacedataset`) and put the zip, "
        f"whatever its name, in {manual}, or unzip it there: the folder images/ "
        f"(JPEGs) may sit in the manual folder or one subfolder below it."]
    assert "Traceback" not in result.stderr
    assert "Downloading and preparing" not in result.stdout  # TFDS's line: nothing downloads
    with pytest.raises(DataError) as named_in_full:  # its name is said once
        data.tfds_images("anime_faces/crops", 64, data_dir=str(tmp_path / "tfds"))
    assert str(named_in_full.value).startswith(
        "--dataset=tfds:anime_faces/crops: the manual download folder")


def test_cli_run_unknown_config_exits_2_in_one_line(tmp_path, capsys):
    config = TrainConfig(dataset="tfds:anime_faces/96px", tfds_data_dir=str(tmp_path),
                         output_dir=str(tmp_path / "run"))
    with pytest.raises(SystemExit) as exit:
        cli.run(config)
    assert exit.value.code == 2
    assert capsys.readouterr().err == (
        "error: --dataset=tfds:anime_faces/96px: anime_faces has no config '96px'; "
        "expected one of crops, 64px\n")


@pytest.mark.slow
def test_cli_trains_and_evaluates_on_tfds_anime_faces(tmp_path):
    tfds_dir = tmp_path / "tfds"
    zipped_manual_dir(str(tfds_dir / "downloads" / "manual"))
    out = tmp_path / "run"
    result = run_main("--dataset=tfds:anime_faces/64px", f"--tfds_data_dir={tfds_dir}",
                      "--epochs=1", "--steps_per_epoch=1", "--batch_size=2",
                      f"--output_dir={out}", f"--cache_dir={tmp_path / 'cache'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "samples" / "epoch_0001.png").is_file()
    assert [p for p in os.listdir(tmp_path / "cache")
            if p.startswith("tfds-anime_faces_64px_1.0.0-train-3-64px")]


TFDS_BUILD = """
import sys
from tensorflow_datasets.scripts.cli import build, cli_utils
cli_utils.make_flags_parser(build.Args, "tfds build")(sys.argv).execute()
"""


def test_tfds_build_command(tmp_path):
    """``tfds build --imports anime_gan anime_faces ...``, as the README says.

    The ``tfds`` program of TFDS 4.9 imports apache_beam and mlcroissant for its other
    commands before it starts, so this runs its ``build`` command directly, in a fresh
    process where only ``--imports`` registers the builder."""
    manual = zipped_manual_dir(str(tmp_path / "manual"))
    result = run_python(["-c", TFDS_BUILD, "--imports=anime_gan", "anime_faces/64px",
                         f"--data_dir={tmp_path / 'tfds'}", f"--manual_dir={manual}"])
    assert result.returncode == 0, result.stderr[-3000:]
    prepared = tfds.builder("anime_faces/64px", data_dir=str(tmp_path / "tfds"))
    assert prepared.info.splits["train"].num_examples == len(FACES64)
    assert prepared.info.metadata["skipped"] == {"not an image (unknown content)": 1}


def test_tfds_program(tmp_path):
    """The same with the ``tfds`` program itself, where its imports are installed."""
    for module in ("apache_beam", "mlcroissant"):
        pytest.importorskip(module)
    manual = zipped_manual_dir(str(tmp_path / "manual"))
    result = run_python(["-m", "tensorflow_datasets.scripts.cli.main", "build",
                         "--imports=anime_gan", "anime_faces", f"--data_dir={tmp_path / 'tfds'}",
                         f"--manual_dir={manual}"])
    assert result.returncode == 0, result.stderr[-3000:]
    for config, count in (("crops", len(CROPS)), ("64px", len(FACES64))):  # every config
        prepared = tfds.builder(f"anime_faces/{config}", data_dir=str(tmp_path / "tfds"))
        assert prepared.info.splits["train"].num_examples == count


def test_real_features_of_a_tfds_data_set_are_keyed_by_where_it_is_prepared(
        tmp_path, tiny_backbone, monkeypatch):
    """The evaluation's feature cache must not answer for another TFDS folder."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # where such features are kept
    manual = extracted_manual_dir(str(tmp_path / "manual"))
    prepare("anime_faces/64px", tmp_path, manual, data_dir="a")
    backbone = evaluation.load_backbone(tiny_backbone)
    first = features.real_features(backbone, 64, 3, dataset="tfds:anime_faces/64px",
                                   tfds_data_dir=str(tmp_path / "a"))
    assert first.shape == (3, 8)
    assert len(list((tmp_path / "keras" / "anime_gan").glob("real_features-*.npy"))) == 1
    (tmp_path / "b" / "downloads" / "manual").mkdir(parents=True)
    with pytest.raises(DataError, match="manual download folder .* is missing or empty"):
        features.real_features(backbone, 64, 3, dataset="tfds:anime_faces/64px",
                               tfds_data_dir=str(tmp_path / "b"))
    again = features.real_features(backbone, 64, 3, dataset="tfds:anime_faces/64px",
                                   tfds_data_dir=str(tmp_path / "a"))
    np.testing.assert_array_equal(again, first)

"""Messy image folders: what is skipped and reported, what is used, what stops at once."""

import io
import logging
import os
import re
import struct
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from anime_gan.data import folder_walk, image_files, image_headers
from anime_gan.data import pipeline as data
from anime_gan.errors import DataError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def solid(height, width, colour):
    return np.full((height, width, len(colour)), colour, np.uint8)


def encode(image, fmt, **kwargs):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def rgb_image(colour=RED, size=(40, 40)):
    return Image.fromarray(solid(size[1], size[0], colour))


# name -> (file bytes, the colour every pixel must decode to)
def usable_files():
    frames = [rgb_image(BLUE), rgb_image(RED)]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:])
    wide = np.concatenate([solid(20, 190, BLUE), solid(20, 20, GREEN), solid(20, 190, BLUE)], 1)
    tall = np.concatenate([solid(190, 20, RED), solid(20, 20, GREEN), solid(190, 20, RED)], 0)
    grey16 = Image.fromarray(np.full((30, 30), 32896, np.uint16))  # 32896 / 257 = 128
    return {
        "grey.png": (encode(Image.fromarray(np.full((30, 30), 77, np.uint8)), "PNG"), (77,) * 3),
        "grey_alpha.png": (encode(Image.new("LA", (30, 30), (90, 100)), "PNG"), (90,) * 3),
        "rgba.png": (encode(Image.new("RGBA", (30, 30), RED + (60,)), "PNG"), RED),
        "palette.png": (encode(rgb_image(GREEN).convert("P"), "PNG"), GREEN),
        "sixteen_bit.png": (encode(grey16, "PNG"), (128,) * 3),
        "cmyk.jpg": (encode(rgb_image(BLUE).convert("CMYK"), "JPEG", quality=100), BLUE),
        "animated.gif": (animated.getvalue(), BLUE),
        "tiny.png": (encode(rgb_image(GREEN, (3, 3)), "PNG"), GREEN),
        "large.jpg": (encode(rgb_image(RED, (2000, 3000)), "JPEG", quality=95), RED),
        "wide.png": (encode(Image.fromarray(wide), "PNG"), None),
        "tall.png": (encode(Image.fromarray(tall), "PNG"), None),
        "UPPER.PNG": (encode(rgb_image(BLUE), "PNG"), BLUE),
        "Photo.JPEG": (encode(rgb_image(GREEN), "JPEG", quality=100), GREEN),
        "no_extension": (encode(rgb_image(RED), "PNG"), RED),
        "picture.bmp": (encode(rgb_image(BLUE), "BMP"), BLUE),
        "picture.webp": (encode(rgb_image(GREEN), "WEBP", lossless=True), GREEN),
    }


def broken_files():
    jpeg = encode(rgb_image(), "JPEG")
    png = encode(rgb_image(), "PNG")
    return {
        "cut.jpg": (jpeg[: len(jpeg) // 2], "truncated JPEG"),
        "cut.png": (png[: len(png) // 2], "truncated PNG"),
        "zero.png": (b"", "empty file"),
        "notes.jpg": (b"these are not pixels\n" * 20, "not an image (unknown content)"),
        "noise.png": (np.random.default_rng(0).bytes(500), "not an image (unknown content)"),
        "scan.tif": (encode(rgb_image(), "TIFF"), "unsupported image format (TIFF); convert to PNG or JPEG"),
        "archive.zip": (zipped(encode(rgb_image(), "PNG")),  # Kaggle's download, not unzipped
                        "a zip archive (not read: if it holds images, unzip it here, or "
                        "give --dataset=tfds:anime_faces)"),
    }


def zipped(content):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("images/1.png", content)
    return buffer.getvalue()


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "messy"
    for files in (usable_files(), broken_files()):
        for name, (content, _) in files.items():
            path = root / ("sub" if name.startswith(("c", "t")) else "") / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return root


def test_scan_keeps_usable_files_and_reports_each_kind(messy_folder, caplog):
    caplog.set_level(logging.WARNING)
    scan = image_files.scan_folder(str(messy_folder))
    assert sorted(map(os.path.basename, scan.usable)) == sorted(usable_files())
    expected = {}
    for name, (_, kind) in broken_files().items():
        expected.setdefault(kind, []).append(name)
    assert {k: sorted(map(os.path.basename, v)) for k, v in scan.skipped.items()} == \
        {k: sorted(v) for k, v in expected.items()}
    # One warning line per kind, with the count and an example path.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(expected)
    assert any("Skipped 2 file(s): not an image (unknown content), e.g." in w and "notes.jpg" in w
               for w in warnings)


def test_a_scan_already_said_can_be_made_again_without_its_warnings(messy_folder, caplog):
    """--eval_every scans the training's folder again: its skipped files are said once."""
    caplog.set_level(logging.WARNING)
    said = image_files.scan_folder(str(messy_folder))
    assert "Skipped" in caplog.text
    caplog.clear()
    again = image_files.scan_folder(str(messy_folder), say_skipped=False)
    assert again == said and caplog.text == ""


def test_unusual_images_decode_to_the_right_pixels(messy_folder):
    paths = image_files.scan_folder(str(messy_folder)).usable
    images, count = data.folder_images(str(messy_folder), 64)
    decoded = {os.path.basename(p): image.numpy() for p, image in zip(paths, images)}
    assert count == len(usable_files())
    for name, (_, colour) in usable_files().items():
        image = decoded[name]
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8, name
        if colour is not None:
            np.testing.assert_allclose(image.reshape(-1, 3).mean(0), colour, atol=3, err_msg=name)
    # Wide and tall images keep their centre square.
    assert np.all(decoded["wide.png"][:, 28:36] == GREEN)
    assert np.all(decoded["tall.png"][28:36, :] == GREEN)


def test_file_that_only_the_decoder_rejects_is_skipped_and_reported(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        (folder / f"good{i}.png").write_bytes(encode(rgb_image(GREEN), "PNG"))
    # JPEG start and end markers around garbage: passes the header check, fails to decode.
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x17" * 300 + b"\xff\xd9")
    images, count = data.folder_images(str(folder), 64)
    assert count == 3 and len(list(images)) == 3
    assert any("Skipped 1 file(s): undecodable" in r.getMessage() and "garbage.jpg" in r.getMessage()
               for r in caplog.records)


def test_folder_without_usable_images_fails_naming_it(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.jpg").write_text("not an image")
    with pytest.raises(DataError, match=r"texts: no usable images \(1 file\(s\) skipped as "
                                        r"not an image \(unknown content\)\); it needs JPEG"):
        image_files.scan_folder(str(folder))
    (folder / "b.png").write_bytes(big_png(5000, 5000))
    (folder / "c.png").write_bytes(big_png(5000, 5000))
    with pytest.raises(DataError, match=r"texts: no usable images \(2 file\(s\) skipped as too "
                                        r"large \(more than --max_image_pixels=100 pixels "
                                        r"declared\), 1 for other reasons above\); it needs"):
        image_files.scan_folder(str(folder), max_pixels=100)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no usable images \(it holds no files\)"):
        image_files.scan_folder(str(empty))
    (empty / "sub" / ".faces").mkdir(parents=True)  # images hidden by renaming their folder
    (empty / "sub" / ".faces" / "a.png").write_bytes(encode(rgb_image(), "PNG"))
    with pytest.raises(DataError, match=r"empty: no usable images \(it holds only hidden files "
                                        r"or folders, which are ignored: sub/\.faces\)"):
        image_files.scan_folder(str(empty))
    for name in (".a", ".b", ".c", ".d"):
        (empty / name).write_text("")
    with pytest.raises(DataError, match=r"ignored: \.a, \.b, \.c, \.\.\.\)"):
        image_files.scan_folder(str(empty))


def test_missing_path_and_file_instead_of_folder(tmp_path):
    with pytest.raises(DataError, match="missing: no such folder"):
        image_files.scan_folder(str(tmp_path / "missing"))
    (tmp_path / "one.png").write_bytes(encode(rgb_image(), "PNG"))
    with pytest.raises(DataError, match="one.png: is a file, not a folder"):
        image_files.scan_folder(str(tmp_path / "one.png"))
    (tmp_path / "archive.zip").write_bytes(zipped(encode(rgb_image(), "PNG")))
    with pytest.raises(DataError) as error:  # the Kaggle download, as it comes
        image_files.scan_folder(str(tmp_path / "archive.zip"))
    assert str(error.value) == (
        f"--data_dir={tmp_path / 'archive.zip'}: is a zip archive; unzip it and give the "
        "folder that holds its images, or give --dataset=tfds:anime_faces with the zip in "
        "TFDS's manual folder (see README)")


def test_unreadable_file_is_skipped_and_counted(messy_folder, monkeypatch):
    # Tests run as root, which can read anything: simulate the permission error.
    locked = str(messy_folder / "grey.png")
    real_open = open

    def fake_open(path, *args, **kwargs):
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    scan = image_files.scan_folder(str(messy_folder))
    assert scan.skipped["unreadable (permission denied)"] == [locked]
    assert locked not in scan.usable and len(scan.usable) == len(usable_files()) - 1


def test_unreadable_folder_is_skipped_and_counted(messy_folder, monkeypatch, caplog):
    locked = str(messy_folder / "sub")
    real_scandir = os.scandir

    def fake_scandir(path="."):
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", fake_scandir)
    with caplog.at_level(logging.WARNING):
        scan = image_files.scan_folder(str(messy_folder))
    assert scan.skipped["unreadable folder (permission denied)"] == [locked]
    assert not [p for p in scan.usable if "/sub/" in p]
    assert "Skipped 1 folder(s): unreadable folder (permission denied)" in caplog.text


def test_unreadable_data_folder_itself_fails_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DataError, match=r"--data_dir=.*: cannot read the folder \(permission"):
        image_files.scan_folder(str(tmp_path))


def test_broken_links_are_skipped_and_linked_folders_followed_once(tmp_path):
    root = tmp_path / "faces"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.png").write_bytes(encode(rgb_image(), "PNG"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.png").write_bytes(encode(rgb_image(BLUE), "PNG"))
    os.symlink(elsewhere, root / "linked")               # followed
    os.symlink(root, root / "real" / "loop")              # a loop: read once
    os.symlink(tmp_path / "gone.png", root / "dangling.png")
    scan = image_files.scan_folder(str(root))
    assert sorted(os.path.relpath(p, root) for p in scan.usable) == ["linked/b.png", "real/a.png"]
    assert scan.skipped == {"broken link (its target does not exist)": [str(root / "dangling.png")]}


def test_a_file_found_under_two_names_is_listed_once(tmp_path, caplog):
    """A link (or hard link) to an image already in the folder would train on it twice."""
    root = tmp_path / "faces"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one.png").write_bytes(encode(rgb_image(), "PNG"))
    (root / "a" / "two.png").write_bytes(encode(rgb_image(BLUE), "PNG"))
    (root / "b").mkdir()
    os.symlink(root / "a" / "one.png", root / "b" / "one_again.png")
    os.link(root / "a" / "two.png", root / "b" / "two_again.png")
    (root / "b" / "copy.png").write_bytes((root / "a" / "one.png").read_bytes())  # a copy is a file
    with caplog.at_level(logging.WARNING):
        scan = image_files.scan_folder(str(root))
    assert sorted(os.path.relpath(p, root) for p in scan.usable) == [
        "a/one.png", "a/two.png", "b/copy.png"]
    assert scan.skipped == {folder_walk.SAME_FILE: [str(root / "b" / "one_again.png"),
                                                    str(root / "b" / "two_again.png")]}
    assert ("Skipped 2 file(s): a link to a file read under another name, "
            "e.g.") in caplog.text
    assert len(data.list_image_files(str(root))) == 3
    # A link that sorts before its file: the file keeps its own name, the link is skipped.
    other = tmp_path / "other"
    other.mkdir()
    (other / "z_real.png").write_bytes(encode(rgb_image(), "PNG"))
    os.symlink(other / "z_real.png", other / "0_link.png")
    scan = image_files.scan_folder(str(other))
    assert scan.usable == [str(other / "z_real.png")]
    assert scan.skipped == {folder_walk.SAME_FILE: [str(other / "0_link.png")]}
    # A file skipped for what it holds is skipped once, under its own name; a second name
    # is never why a folder has no usable image.
    with caplog.at_level(logging.WARNING):
        with pytest.raises(DataError, match=r"no usable images \(1 file\(s\) skipped as too "
                                            r"large .*, 1 for other reasons above\)"):
            image_files.scan_folder(str(other), max_pixels=100)
    assert f"Skipped 1 file(s): too large (more than --max_image_pixels=100 pixels declared), " \
        f"e.g. {other / 'z_real.png'}\n" in caplog.text
    # A linked folder that sorts before its real one: read under the real folder's name.
    (other / "real").mkdir()
    (other / "real" / "face.png").write_bytes(encode(rgb_image(BLUE), "PNG"))
    os.symlink(other / "real", other / "a_alias")
    scan = image_files.scan_folder(str(other))
    assert sorted(scan.usable) == [str(other / "real" / "face.png"), str(other / "z_real.png")]


def test_run_folders_inside_the_data_folder_are_skipped_not_trained_on(tmp_path, caplog):
    root = tmp_path / "faces"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.png").write_bytes(encode(rgb_image(), "PNG"))
    run = root / "runs" / "first"                         # a run written into the data
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "config.json").write_text("{}")
    (run / "samples" / "epoch_0001.png").write_bytes(encode(rgb_image(GREEN), "PNG"))
    (run / "generated" / "seed_0").mkdir(parents=True)
    (run / "generated" / "seed_0" / "0000.png").write_bytes(encode(rgb_image(BLUE), "PNG"))
    history_only = root / "runs" / "second"               # killed before its first checkpoint
    history_only.mkdir()
    (history_only / "config.json").write_text("{}")
    (history_only / "history.csv").write_text("epoch\n")
    (history_only / "grid.png").write_bytes(encode(rgb_image(BLUE), "PNG"))
    not_a_run = root / "labelled"                         # a config.json alone is data's
    not_a_run.mkdir()
    (not_a_run / "config.json").write_text("{}")
    (not_a_run / "b.png").write_bytes(encode(rgb_image(BLUE), "PNG"))
    caplog.set_level(logging.WARNING)
    scan = image_files.scan_folder(str(root))
    assert sorted(os.path.relpath(p, root) for p in scan.usable) == ["labelled/b.png", "real/a.png"]
    assert scan.skipped == {folder_walk.RUN_FOLDER: [str(run), str(history_only)],
                            "not an image (unknown content)": [str(not_a_run / "config.json")]}
    assert f"Skipped 2 folder(s): {folder_walk.RUN_FOLDER}, e.g. {run}" in caplog.text
    for given in (run, history_only):  # given as the data folder itself: refused
        with pytest.raises(DataError) as refused:
            image_files.scan_folder(str(given))
        assert str(refused.value) == (f"--data_dir={given}: is {folder_walk.RUN_FOLDER}; "
                                      "give the folder that holds the images")
    # A folder inside a run is refused too; the run is known by its config.json's settings.
    (run / "config.json").write_text('{"model": "dcgan", "image_size": 64, "latent_dim": 128}')
    for given in (run / "samples", run / "generated" / "seed_0"):
        with pytest.raises(DataError) as refused:
            image_files.scan_folder(str(given))
        assert str(refused.value) == (f"--data_dir={given}: is inside the training run's "
                                      f"folder {run} (its sample grids are outputs, not data); "
                                      "give the folder that holds the images")
    # Another project's folder: a config.json of its own beside its checkpoints/.
    project = tmp_path / "project"
    (project / "checkpoints").mkdir(parents=True)
    (project / "config.json").write_text('{"lr": 0.1}')
    (project / "data" / "faces").mkdir(parents=True)
    (project / "data" / "faces" / "a.png").write_bytes(encode(rgb_image(), "PNG"))
    assert len(image_files.scan_folder(str(project / "data" / "faces")).usable) == 1


def big_png(width, height):
    """A small PNG file whose header declares ``width`` x ``height`` pixels."""
    image = encode(rgb_image(size=(2, 2)), "PNG")
    return image[:16] + struct.pack(">II", width, height) + image[24:]


def gif_declaring_a_smaller_screen(width, height):
    """A GIF of one ``width`` x ``height`` frame (after a comment extension) whose header
    declares a 4x4 screen: the decoder allocates the frame."""
    image = Image.fromarray(np.zeros((height, width, 3), np.uint8))
    encoded = encode(image, "GIF", comment=b"a comment")
    return encoded[:6] + struct.pack("<HH", 4, 4) + encoded[10:]


def gif_with_a_local_colour_table_only(width, height, screen=None):
    """A GIF whose colours are its frame's own (no global table after the header), as
    some encoders write them; ``screen``: the (smaller) size its header declares."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3),
                                                              dtype=np.uint8)).convert("P")
    data = encode(image, "GIF")
    flags, table_size = data[10], 3 << ((data[10] & 7) + 1)
    table, rest = data[13:13 + table_size], data[13 + table_size:]
    at = 0
    while rest[at:at + 1] == b"!":  # extensions: a label, then sub-blocks
        at += 2
        while rest[at]:
            at += rest[at] + 1
        at += 1
    descriptor = rest[at:at + 9] + bytes([0x80 | (flags & 7)])
    header = data[:6] + (struct.pack("<HH", *screen) if screen else data[6:10])
    return header + bytes([flags & 0x70]) + data[11:13] + rest[:at] + descriptor + table + \
        rest[at + 10:]


@pytest.mark.parametrize("name, content, size", [
    ("huge.png", lambda: big_png(20000, 20000), (20000, 20000)),
    ("huge.jpg", lambda: encode(rgb_image(size=(300, 200)), "JPEG"), (300, 200)),
    ("huge.gif", lambda: encode(rgb_image(size=(300, 200)), "GIF"), (300, 200)),
    ("frame_over_its_screen.gif", lambda: gif_declaring_a_smaller_screen(300, 200), (300, 200)),
    ("local_colours.gif", lambda: gif_with_a_local_colour_table_only(300, 200), (300, 200)),
    ("local_colours_over_its_screen.gif",
     lambda: gif_with_a_local_colour_table_only(300, 200, screen=(4, 4)), (300, 200)),
    ("huge.bmp", lambda: encode(rgb_image(size=(300, 200)), "BMP"), (300, 200)),
    ("lossless.webp", lambda: encode(rgb_image(size=(300, 200)), "WEBP", lossless=True),
     (300, 200)),
    ("lossy.webp", lambda: encode(rgb_image(size=(300, 200)), "WEBP"), (300, 200)),
])
def test_images_over_the_pixel_limit_are_skipped_before_decoding(tmp_path, name, content, size):
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "ok.png").write_bytes(encode(rgb_image(size=(10, 10)), "PNG"))
    path = folder / name
    path.write_bytes(content())
    with open(path, "rb") as f:
        head = f.read(32)
        kind = image_headers.image_format(head)
        assert image_headers.image_size(kind, head, f) == size
    limit = size[0] * size[1] - 1
    scan = image_files.scan_folder(str(folder), max_pixels=limit)
    assert scan.usable == [str(folder / "ok.png")]
    assert scan.skipped == {
        f"too large (more than --max_image_pixels={limit} pixels declared)": [str(path)]}
    assert image_files.scan_folder(str(folder), max_pixels=limit + 1).usable == sorted(
        [str(folder / "ok.png"), str(path)])


def test_a_gif_with_only_a_local_colour_table_decodes_and_is_kept(tmp_path):
    path = tmp_path / "local.gif"
    path.write_bytes(gif_with_a_local_colour_table_only(44, 40))
    decoded = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
    assert decoded.shape == (40, 44, 3)
    np.testing.assert_array_equal(decoded.numpy(), np.asarray(Image.open(path).convert("RGB")))
    assert image_files.classify(str(path), max_pixels=44 * 40) is None


def test_data_smaller_than_one_batch_fails_with_advice_before_decoding(tmp_path, caplog):
    folder = tmp_path / "few"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(encode(rgb_image(), "PNG"))
    with caplog.at_level(logging.INFO, logger="anime_gan"), pytest.raises(
            DataError, match=r"few: 3 images, fewer than one training step needs "
                             r"\(2 x --batch_size=2\); give more images, or a new run a smaller "
                             r"--batch_size or --n_critic$"):
        data.make_stream(64, batch_size=2, data_dir=str(folder), batches_per_step=2)
    assert "Decoding" not in caplog.text  # refused from the listing, at once


def decoded_with_native_stderr(folder, capfd, caplog):
    """The stream of a folder's images at batch 3, and what reached the process's stderr
    (file descriptor 2, where libjpeg writes) while it was made."""
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="anime_gan"):
        stream = data.make_stream(64, batch_size=3, data_dir=str(folder))
    return stream, capfd.readouterr().err


def test_libjpegs_warnings_about_jpegs_it_decodes_are_one_log_line(tmp_path, capfd, caplog):
    whole = encode(rgb_image(), "JPEG")
    marker = whole.index(b"\xff\xdb")
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):  # three stray bytes before a marker: libjpeg warns, and decodes
        (folder / f"{i}.jpg").write_bytes(whole[:marker] + b"\0\0\0" + whole[marker:])
    stream, stderr = decoded_with_native_stderr(folder, capfd, caplog)
    assert stream.count == 3
    assert "Corrupt JPEG data" not in stderr
    assert ("libjpeg's warnings while decoding: 3 (e.g. 'Corrupt JPEG data: 3 extraneous "
            "bytes before marker 0xdb'); the files it decoded are kept") in caplog.text


def test_libjpegs_errors_about_jpegs_it_cannot_decode_give_way_to_the_skip_line(
        tmp_path, capfd, caplog):
    whole = encode(rgb_image(), "JPEG")
    table = whole.index(b"\xff\xc4") + 5  # the first Huffman table's counts
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        (folder / f"good_{i}.jpg").write_bytes(whole)
    for i in range(2):
        (folder / f"bad_{i}.jpg").write_bytes(whole[:table] + b"\xff" * 16 + whole[table + 16:])
    stream, stderr = decoded_with_native_stderr(folder, capfd, caplog)
    assert stream.count == 3
    assert "Bogus Huffman table definition" not in stderr
    assert ("libjpeg's errors while decoding: 2 (e.g. 'Bogus Huffman table definition')"
            in caplog.text)
    assert re.search(r"Skipped 2 file\(s\): undecodable \(corrupt image data\), e\.g\. "
                     r".*bad_0\.jpg, .*bad_1\.jpg", caplog.text)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "JPEG", "BMP"])
def test_a_file_cut_anywhere_in_its_header_is_skipped_not_a_crash(tmp_path, fmt):
    """Every prefix of a real file: the scan (with its header-size check) gives a reason."""
    whole = encode(rgb_image(), fmt)
    for length in range(1, 64):
        path = tmp_path / f"cut_{length}.img"
        path.write_bytes(whole[:length])
        assert isinstance(image_files.classify(str(path), max_pixels=10**8), str), length
    (tmp_path / "fill.jpg").write_bytes(b"\xff\xd8\xff\xff")  # fill bytes up to the end
    assert image_files.classify(str(tmp_path / "fill.jpg"), 10**8) == "truncated JPEG"


@pytest.mark.parametrize("fmt, trailer", [("JPEG", b"x" * 2048), ("PNG", bytes(100))])
def test_bytes_after_the_end_marker_leave_the_image_usable(tmp_path, fmt, trailer):
    """Phones' "motion photos" append data after a JPEG's end: the image is still used."""
    (tmp_path / f"trailer.{fmt.lower()}").write_bytes(encode(rgb_image(GREEN), fmt) + trailer)
    for i in range(3):
        (tmp_path / f"plain_{i}.png").write_bytes(encode(rgb_image(RED), "PNG"))
    scan = image_files.scan_folder(str(tmp_path))
    assert scan.skipped == {} and len(scan.usable) == 4
    images, count = data.folder_images(str(tmp_path), 32)
    greens = [image for image in images.as_numpy_iterator() if image[..., 1].mean() > 200]
    assert count == 4 and len(greens) == 1


def test_a_named_pipe_is_skipped_without_waiting_on_it(tmp_path):
    for i in range(2):
        (tmp_path / f"face_{i}.png").write_bytes(encode(rgb_image(), "PNG"))
    os.mkfifo(tmp_path / "pipe.jpg")
    scan = image_files.scan_folder(str(tmp_path))
    assert len(scan.usable) == 2
    assert scan.skipped == {"not a regular file (a pipe, socket or device)":
                            [str(tmp_path / "pipe.jpg")]}


def test_a_bmp_of_fewer_than_8_bits_a_pixel_is_reported_as_unsupported(tmp_path):
    """TensorFlow's BMP decoder reads 8, 24 and 32 bits a pixel, not 1 or 4."""
    for mode in ("1", "L", "RGB"):
        (tmp_path / f"{mode}.bmp").write_bytes(encode(rgb_image().convert(mode), "BMP"))
    assert image_files.classify(str(tmp_path / "1.bmp")) == (
        "unsupported image format (BMP of 1 or 4 bits a pixel); convert to PNG or JPEG")
    assert image_files.classify(str(tmp_path / "L.bmp")) is None
    assert image_files.classify(str(tmp_path / "RGB.bmp")) is None


def test_a_bmp_with_a_colour_table_is_reported_and_a_grey_one_decodes_right(tmp_path):
    """TensorFlow reads an 8-bit BMP's colour indices as grey levels: a face in a palette
    BMP would train as a grey picture of its indices."""
    face = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    (tmp_path / "P.bmp").write_bytes(encode(Image.fromarray(face).convert("P"), "BMP"))
    grey = Image.fromarray(face).convert("L")
    (tmp_path / "L.bmp").write_bytes(encode(grey, "BMP"))
    assert image_files.classify(str(tmp_path / "P.bmp")) == (
        "unsupported image format (BMP of 8 bits a pixel with a colour table); "
        "convert to PNG or JPEG")
    assert image_files.classify(str(tmp_path / "L.bmp")) is None
    for colours in (257, 2**32 - 1):  # a broken count of colours: skipped, not a crash
        patched = bytearray((tmp_path / "P.bmp").read_bytes())
        patched[46:50] = colours.to_bytes(4, "little")
        (tmp_path / "broken.bmp").write_bytes(bytes(patched))
        assert "colour table" in image_files.classify(str(tmp_path / "broken.bmp"))
    decoded = tf.io.decode_image(tf.io.read_file(str(tmp_path / "L.bmp")), channels=3).numpy()
    np.testing.assert_array_equal(decoded, np.repeat(np.asarray(grey)[..., None], 3, axis=-1))


def test_the_size_warning_samples_the_files_evenly(tmp_path, caplog):
    """200 large images in one subfolder, then 300 small ones: 60% are small."""
    paths = []
    for sub, count, size in (("hi", 200, (80, 80)), ("lo", 300, (32, 32))):
        (tmp_path / sub).mkdir()
        image = encode(rgb_image(size=size), "PNG")
        for i in range(count):
            (tmp_path / sub / f"{i:03d}.png").write_bytes(image)
            paths.append(str(tmp_path / sub / f"{i:03d}.png"))
    caplog.set_level(logging.WARNING)
    image_headers.warn_if_mostly_smaller(paths, 64, str(tmp_path))
    assert f"60% of the images under {tmp_path} (a sample of 256) are smaller" in caplog.text


def test_a_folder_of_mostly_smaller_images_than_the_image_size_is_warned_of(tmp_path, caplog):
    folder = tmp_path / "faces"
    folder.mkdir()
    for i, (size, fmt) in enumerate([((32, 48), "PNG"), ((40, 40), "JPEG"), ((50, 30), "GIF"),
                                     ((128, 128), "PNG"), ((64, 100), "BMP")]):
        (folder / f"{i}.img").write_bytes(encode(rgb_image(size=size), fmt))
    caplog.set_level(logging.WARNING)
    _, count = data.folder_images(str(folder), 64)
    assert count == 5
    assert (f"60% of the images under {folder} (a sample of 5) are smaller than --image_size=64: "
            "they are upscaled, so what the GAN learns is blurred; a smaller --image_size fits "
            "them") in caplog.messages
    caplog.clear()
    data.folder_images(str(folder), 32)  # 64x100 is 64 on its shorter side, and so on
    assert "smaller than" not in caplog.text


def test_a_cache_folder_kept_inside_the_data_folder_is_not_reported_as_bad_data(tmp_path):
    (tmp_path / "face.png").write_bytes(encode(rgb_image(), "PNG"))
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("images-64px-0123456789abcdef.index",
                 "images-64px-0123456789abcdef.data-00000-of-00001",
                 "real_features-0123456789abcdef0123.npy"):
        (cache / name).write_bytes(b"not an image")
    (cache / "real_features-notes.npy").write_bytes(b"not an image")  # not ours: reported
    scan = image_files.scan_folder(str(tmp_path))
    assert [os.path.basename(p) for p in scan.usable] == ["face.png"]
    assert [os.path.basename(p) for paths in scan.skipped.values() for p in paths] == [
        "real_features-notes.npy"]

"""The Anime Face Dataset as a TensorFlow Datasets builder: ``tfds.load("anime_faces")``.

Two configs, one per Kaggle data set, both downloaded by hand (Kaggle needs an
account) into the TFDS manual folder, ``<data_dir>/downloads/manual/`` by default:

- ``crops`` (default): ``splcher/animefacedataset``, ~63,600 face crops of
  varying size, a folder ``images/`` of JPEGs;
- ``64px``: ``soumikrakshit/anime-faces``, 21,551 faces of 64x64, in ``data/data/``.

The manual folder may hold the download as Kaggle gives it (a zip, whatever its
name) or its extracted folder; each config finds its own set there by content.
Files that are not usable images are skipped with the project's image check
(``image_files.classify``) plus a decode, and counted: in the log, and in the
prepared data set's ``metadata.json`` (``builder.info.metadata["skipped"]``).

Importing this module registers the builder (``anime_gan`` imports it).  Build it
with ``tfds build --imports anime_gan anime_faces`` or ``--dataset=tfds:anime_faces``.
"""

import dataclasses
import io
import logging
import os
import pathlib
import re
import zipfile

import tensorflow_datasets as tfds
from etils import epath
from PIL import Image

from anime_gan.data.image_files import sorted_out
from anime_gan.errors import DataError

logger = logging.getLogger(__name__)

UNDECODABLE = "undecodable (corrupt image data)"
_EXAMPLES = 3  # file names shown per kind of problem
_SOURCE_RECORD = ".anime_gan_source"  # in an extracted zip: the size and time of the zip


@dataclasses.dataclass(eq=False)
class AnimeFacesConfig(tfds.core.BuilderConfig):
    """One Kaggle data set: where its images are inside the download."""

    kaggle: str = ""  # the Kaggle handle, owner/name
    folder: str = ""  # the images' folder inside the download, e.g. "images"
    content: str = ""  # what the folder holds, for messages

    @property
    def instructions(self):
        return self.instructions_for()

    def instructions_for(self, manual_dir=None):
        """What to download and where to put it (in ``manual_dir`` when it is known)."""
        where = manual_dir or ("the manual folder (by default "
                               "~/tensorflow_datasets/downloads/manual/)")
        return (
            f"Download the Kaggle data set {self.kaggle} "
            f"(https://www.kaggle.com/datasets/{self.kaggle}; the website's Download "
            f"button, or `kaggle datasets download -d {self.kaggle}`) and put the zip, "
            f"whatever its name, in {where}, or unzip it there: the folder "
            f"{self.folder}/ ({self.content}) may sit in the manual folder or one "
            f"subfolder below it."
        )


CONFIGS = (
    AnimeFacesConfig(
        name="crops",
        description="splcher/animefacedataset: ~63,600 anime face crops of varying "
                    "size (mostly 80-120 px), JPEG.",
        kaggle="splcher/animefacedataset", folder="images", content="JPEGs"),
    AnimeFacesConfig(
        name="64px",
        description="soumikrakshit/anime-faces: 21,551 anime faces of 64x64, PNG.",
        kaggle="soumikrakshit/anime-faces", folder="data/data", content="64x64 PNGs"),
)


class AnimeFaces(tfds.core.GeneratorBasedBuilder):
    """Anime face images from Kaggle, one config per data set."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Both Kaggle data sets, from a zip or an extracted folder."}
    BUILDER_CONFIGS = list(CONFIGS)
    DEFAULT_BUILDER_CONFIG_NAME = "crops"
    MANUAL_DOWNLOAD_INSTRUCTIONS = "\n\n".join(
        f"Config {config.name}: {config.instructions}" for config in CONFIGS
    ) + ("\n\nBoth downloads may share the manual folder; each config picks its own by "
         "content.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # This config's own instructions (TFDS reads the attribute from the instance).
        self.MANUAL_DOWNLOAD_INSTRUCTIONS = self.builder_config.instructions

    def _log_download_bytes(self):
        # TFDS prints "Downloading and preparing dataset Unknown size ..." here, before it
        # looks in the manual folder: nothing is downloaded, and a missing download would
        # follow that line with its error.
        logger.info("Preparing %s/%s from the manual download", self.name,
                    self.builder_config.name)

    def _info(self):
        info = self.dataset_info_from_configs(
            description=(
                "Anime face images collected from the web and published on Kaggle, for "
                "training generative models. Examples are the image (RGB, JPEG or PNG "
                "as in the download) and its file name inside the download's image "
                "folder; files that are not usable images are left out and counted in "
                "the metadata."),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "file_name": tfds.features.Text(),
            }),
            homepage=f"https://www.kaggle.com/datasets/{self.builder_config.kaggle}",
            metadata=tfds.core.MetadataDict(),
            supervised_keys=None,
        )
        # Before the data is prepared, TFDS looks for the data set's metadata in its
        # Google Cloud bucket, where this one never is; the look-up leaves an empty
        # temporary folder behind each time (DatasetInfo.initialize_from_bucket).
        info.initialize_from_bucket = lambda: None
        return info

    def _split_generators(self, dl_manager):
        config = self.builder_config
        name = f"{self.name}/{config.name}"
        try:
            manual_dir = epath.Path(dl_manager.manual_dir)
        except AssertionError:  # TFDS's check: missing or empty (a multi-line message)
            where = getattr(dl_manager, "_manual_dir", "the manual folder")
            raise DataError(
                f"{name}: the manual download folder {where} is missing or empty. "
                f"{config.instructions_for(where)}") from None
        source = find_download(manual_dir, config)
        if source.suffix == ".zip" or source.is_file():
            extracted = _extract(dl_manager, source, name)
            folder = _find_folder(extracted, config.folder)
            if folder is None:  # find_download saw it in the zip's listing
                raise DataError(f"{name}: {source} extracted to {extracted} without "
                                f"a {config.folder}/ folder; delete it and try again")
        else:
            folder = source
        logger.info("%s: reading the images in %s", name, folder)
        candidates, skipped = scan(folder)
        if not candidates:
            total = sum(len(v) for v in skipped.values())
            raise DataError(f"{name}: none of the {total} files in {folder} is a usable "
                            f"image ({describe_skipped(skipped)}); download it again")
        self.info.metadata["source"] = str(source)
        return {"train": self._generate_examples(folder, candidates, skipped)}

    def _generate_examples(self, folder, names, skipped):
        """Decodes each file that passed the check; records and logs what was skipped."""
        kept = 0
        for file_name in names:
            image = _decoded_image((folder / file_name).read_bytes())
            if image is None:
                skipped.setdefault(UNDECODABLE, []).append(file_name)
                continue
            kept += 1
            yield file_name, {"image": image, "file_name": file_name}
        total = kept + sum(len(v) for v in skipped.values())
        name = f"{self.name}/{self.builder_config.name}"
        if not kept:
            raise DataError(f"{name}: none of the {total} files in {folder} is a usable "
                            f"image ({describe_skipped(skipped)}); download it again")
        self.info.metadata["skipped"] = {kind: len(v) for kind, v in sorted(skipped.items())}
        self.info.metadata["skipped_examples"] = {
            kind: v[:_EXAMPLES] for kind, v in sorted(skipped.items())}
        if skipped:
            logger.warning("%s: skipped %d of %d files: %s", name, total - kept, total,
                           describe_skipped(skipped))
        else:
            logger.info("%s: all %d files are usable images", name, total)


def describe_skipped(skipped):
    """'2 not an image (unknown content), e.g. a.txt, b.txt; 1 truncated JPEG, e.g. c.jpg'"""
    parts = []
    for kind, names in sorted(skipped.items()):
        more = f" and {len(names) - _EXAMPLES} more" if len(names) > _EXAMPLES else ""
        parts.append(f"{len(names)} {kind}, e.g. {', '.join(names[:_EXAMPLES])}{more}")
    return "; ".join(parts)


def _find_folder(root, folder):
    """``root/folder`` or ``root/*/folder`` (the first, sorted), if it is a folder."""
    candidates = [root / folder] + [
        child / folder for child in sorted(root.iterdir())
        if child.is_dir() and not child.name.startswith(".")]
    return next((c for c in candidates if c.is_dir()), None)


def _zip_pattern(folder):
    """Member names of the folder's files, at the zip's top or one folder down."""
    return re.compile(r"^(?:[^/]+/)?" + re.escape(folder) + r"/[^/]+$")


def _zip_summary(names):
    tops = sorted({n.split("/")[0] + ("/" if "/" in n else "") for n in names})
    more = ", ..." if len(tops) > 3 else ""
    return ", ".join(tops[:3]) + more if tops else "nothing"


def find_download(manual_dir, config):
    """The config's extracted image folder in ``manual_dir``, else its Kaggle zip.

    An extracted folder (``manual_dir/<folder>`` or ``manual_dir/*/<folder>``) wins
    over a zip; zips are recognised by content, whatever their names.  Raises
    ``DataError`` (one line: what was expected, where, and what is there) if
    neither is found.
    """
    folder = _find_folder(manual_dir, config.folder)
    if folder is not None:
        return folder
    pattern = _zip_pattern(config.folder)
    others = []
    for path in sorted(manual_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            if not path.name.startswith("."):
                others.append(f"{path.name}/ (no {config.folder}/ inside)")
            continue
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            others.append(f"{path.name} (not a zip, or one cut short)")
            continue
        if any(pattern.match(n) for n in names):
            return path
        others.append(f"{path.name} (a zip of {_zip_summary(names)})")
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    raise DataError(
        f"anime_faces/{config.name}: no download of the Kaggle data set {config.kaggle} in "
        f"{manual_dir}: expected its zip (any name, holding {config.folder}/) or the "
        f"extracted folder {config.folder}/ ({config.content}); found "
        f"{'; '.join(others[:3])}{more}")


def scan(folder):
    """The files under ``folder`` that pass the project's image check, and the others.

    Returns ``[relative path]`` (recursively, sorted; walked as a ``--data_dir`` is, by
    ``folder_walk``) and ``{kind of problem: [relative path]}``, both in POSIX form.
    """
    usable, skipped = sorted_out(os.fspath(folder))

    def relative(paths):  # walk_folders' own skips too (run folders, links)
        return sorted(pathlib.PurePath(os.path.relpath(p, folder)).as_posix() for p in paths)
    return relative(usable), {kind: relative(paths) for kind, paths in skipped.items()}


def _decoded_image(data):
    """The image to store for a file's bytes, or None if they do not decode.

    RGB JPEGs and PNGs are kept byte for byte; anything else (grey, RGBA, palette,
    BMP, GIF, WebP) becomes an RGB PNG (a GIF: its first frame).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format in ("JPEG", "PNG") and image.mode == "RGB":
                return data
            if image.mode.startswith("I"):  # 16-bit grey: Pillow's RGB would clip it to white
                image = image.convert("I").point(lambda level: level / 256).convert("L")
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="PNG")
            return buffer.getvalue()
    except Exception:  # PIL raises many types for broken data
        return None


def _extract(dl_manager, source, name):
    """The zip ``source`` extracted by TFDS (once), extracted again if the zip changed
    since: TFDS names the extraction after the zip's name, and Kaggle's is always the same."""
    def extract():
        return epath.Path(dl_manager.extract(tfds.download.Resource(
            path=source, extract_method=tfds.download.ExtractMethod.ZIP)))

    status = source.stat()
    stamp = f"{status.length} {status.mtime}"
    logger.info("%s: extracting %s", name, source)
    extracted = extract()
    record = extracted / _SOURCE_RECORD
    if record.exists() and record.read_text() != stamp:
        logger.info("%s: %s changed since it was extracted; extracting it again", name, source)
        extracted.rmtree()
        extracted = extract()
    record.write_text(stamp)
    return extracted

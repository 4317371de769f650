"""Training data as ``tf.data`` pipelines of float32 images in [-1, 1].

Three sources, one pipeline shape: decode -> center-crop -> resize (uint8) ->
cache -> shuffle -> scale -> batch -> prefetch.  Decoding and resizing happen
once; later epochs read the cached uint8 images.
"""

import logging
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from anime_gan import tensorflow_logs
from anime_gan.data import file_cache, image_files, image_headers, network, synthetic
from anime_gan.data.kaggle import local_data_dir
from anime_gan.errors import (DataError, check_one_data_source, check_whole_numbers,
                              first_line)
from anime_gan.images import to_float

logger = logging.getLogger(__name__)

SHUFFLE_BUFFER = 10_000
SYNTHETIC_IMAGES = 5000

AUTOTUNE = tf.data.AUTOTUNE


def list_image_files(data_dir, max_pixels=image_files.DEFAULT_MAX_PIXELS):
    """The usable image files under ``data_dir``, recursively, in sorted order.

    Files that cannot be images are skipped with one warning per kind; see
    ``image_files.scan_folder``.
    """
    return image_files.scan_folder(data_dir, max_pixels).usable


def center_crop_and_resize(image, image_size):
    """Any [H, W, C] image -> uint8 [image_size, image_size, C], cropped to a square."""
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2,
                                          (shape[1] - side) // 2, side, side)
    image = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def decode_image_file(path, image_size):
    """JPEG/PNG/BMP/GIF/WebP file -> uint8 RGB [image_size, image_size, 3].

    Grey is repeated to RGB, an alpha channel is dropped (not composited), 16-bit
    PNGs are scaled to 8 bits, CMYK JPEGs converted, and a GIF gives its first frame.
    """
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return center_crop_and_resize(image, image_size)


def folder_images(data_dir, image_size, cache_dir=None,
                  max_pixels=image_files.DEFAULT_MAX_PIXELS, check_count=None):
    """Cached uint8 images from every usable image file under ``data_dir``, and their number.
    ``check_count(number of files)`` may refuse them before any is decoded."""
    paths = list_image_files(data_dir, max_pixels)
    if check_count:
        check_count(len(paths))
    image_headers.warn_if_mostly_smaller(paths, image_size, data_dir)
    return decoded_images(paths, image_size, data_dir, cache_dir)


def decoded_images(paths, image_size, data_dir, cache_dir=None):
    """Cached uint8 images of the image files ``paths`` (found under ``data_dir``), and their
    number.  Every file is decoded once, here, into the cache: in memory (image_size^2 * 3
    bytes an image), or in files under ``cache_dir`` named after the data set's
    contents, which later runs reuse.  A file whose header looked right but
    which the decoder rejects is skipped and reported.
    """
    cache = file_cache.cache_path(cache_dir, f"images-{image_size}px-"
                                  f"{file_cache.listing_digest(paths, data_dir)[:16]}")
    # As bytes: a name that is not UTF-8 (from an old zip) is a valid path all the same.
    names = [os.fsencode(path) for path in paths]
    decoded = (tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), names))
               .map(lambda index, path: (index, decode_image_file(path, image_size)),
                    num_parallel_calls=AUTOTUNE)
               .ignore_errors()
               .cache(cache))
    libjpeg = tensorflow_logs.LibjpegWarnings()

    def decode_all():  # its 'Decoding ...' line is said first, not held back with libjpeg's
        with tensorflow_logs.held_native_stderr(libjpeg):
            return np.concatenate([batch.numpy() for batch in decoded.map(
                lambda index, image: index).batch(8192)] or [[]])
    kept, reused, seconds = file_cache.logged_fill(
        decode_all, cache, f"--cache_dir={cache_dir}" if cache_dir else f"--data_dir={data_dir}",
        f"{len(paths)} images under {data_dir}")
    if libjpeg.dropped:
        logger.info("libjpeg's warnings while decoding: %d (e.g. '%s'); the files it "
                    "decoded are kept", len(libjpeg.dropped), libjpeg.dropped[0])
    failed = sorted(set(range(len(paths))) - set(kept.tolist()))
    if libjpeg.errors:
        logger.info("libjpeg's errors while decoding: %d (e.g. '%s')", len(libjpeg.errors),
                    libjpeg.errors[0])
    if failed:
        image_files.FolderScan([], {"undecodable (corrupt image data)":
                                    [paths[i] for i in failed]}).log_skipped()
    if not len(kept):
        raise DataError(
            f"--data_dir={data_dir}: none of the {len(paths)} image files could be decoded")
    file_cache.log_pass(reused, len(kept), seconds)
    return decoded.map(lambda index, image: image), len(kept)


def _tfds_builder(name, data_dir):
    """``tfds.builder(name)``, or a one-line ``DataError`` for an unknown name or config."""
    try:
        parsed, kwargs = tfds.core.naming.parse_builder_name_kwargs(name)
        base, config = str(parsed), kwargs.get("config")
        builder_cls = tfds.builder_cls(base)
    except Exception:  # DatasetNotFoundError, with a list of every data set
        raise DataError(
            f"--dataset=tfds:{name}: not a TensorFlow Datasets data set here") from None
    configs = getattr(builder_cls, "builder_configs", None) or {}
    if config and config not in configs:
        expected = f"one of {', '.join(configs)}" if configs else "no config"
        raise DataError(
            f"--dataset=tfds:{name}: {base} has no config {config!r}; expected {expected}")
    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # tfds raises several types for broken names
        raise DataError(f"--dataset=tfds:{name}: not a usable TensorFlow "
                        f"Datasets data set ({first_line(error)})") from None


def tfds_images(name, image_size, split="train", cache_dir=None, data_dir=None):
    """Cached uint8 images from a TensorFlow Datasets data set, its image feature found by type.

    ``data_dir`` is where TFDS keeps prepared data sets (default: $TFDS_DATA_DIR, else
    ~/tensorflow_datasets); a manual download goes in its ``downloads/manual/``.
    """
    builder = _tfds_builder(name, data_dir)
    image_keys = [
        key for key, feature in builder.info.features.items()
        if isinstance(feature, tfds.features.Image)
    ]
    if not image_keys:
        raise DataError(f"--dataset=tfds:{name}: the data set has no image feature")
    key = image_keys[0]
    if not builder.is_prepared() and not getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None):
        network.check_online(name)
        logger.info("--dataset=tfds:%s is not prepared in %s: TensorFlow Datasets downloads "
                    "it now", name, builder.data_dir_root)
    try:
        builder.download_and_prepare()
    except DataError as error:  # a builder of this project: says what to do
        named, _, text = str(error).partition(": ")  # "anime_faces/crops: ..."
        if named.split("/")[0] != name.split("/")[0]:
            named, text = name, str(error)
        raise DataError(f"--dataset=tfds:{named}: {text}") from None
    except Exception as error:  # network, disk or manual-download problems
        raise DataError(
            f"--dataset=tfds:{name}: could not download or prepare it ({first_line(error)}); "
            "prepare it with the tfds command-line tool first, or use --data_dir") from None
    dataset = builder.as_dataset(split=split)
    count = int(dataset.cardinality())
    if count < 0:  # unknown to tf.data: ask the data set's metadata
        count = builder.info.splits[split].num_examples

    grey = builder.info.features[key].shape[-1] == 1

    def prepare(example):
        image = example[key]
        image = tf.image.grayscale_to_rgb(image) if grey else image[..., :3]
        return center_crop_and_resize(image, image_size)

    cache = file_cache.cache_path(cache_dir, f"tfds-{builder.info.full_name.replace('/', '_')}-"
                                  f"{split}-{count}-{image_size}px")
    images = dataset.map(prepare, num_parallel_calls=AUTOTUNE).cache(cache)
    if cache:  # filled now, as a folder's: a damaged or half-written cache is filled again
        _, reused, seconds = file_cache.logged_fill(
            lambda: sum(len(batch) for batch in images.batch(1024)), cache,
            f"--cache_dir={cache_dir}", f"{count} images of tfds:{name}")
        file_cache.log_pass(reused, count, seconds)
    return images, count


def synthetic_images(image_size, seed, num_images=None):
    """uint8 images from the built-in cartoon-face generator (``SYNTHETIC_IMAGES`` of them)."""
    num_images = num_images or SYNTHETIC_IMAGES
    faces = synthetic.cartoon_faces(num_images, image_size, seed)
    return tf.data.Dataset.from_tensor_slices(faces), num_images


def load_images(image_size, data_dir=None, dataset=None, seed=0, cache_dir=None,
                tfds_data_dir=None, max_image_pixels=image_files.DEFAULT_MAX_PIXELS,
                check_count=None):
    """The uint8 image source chosen by the flags, and its size (an image folder's files
    counted by ``check_count`` before they are decoded)."""
    check_one_data_source(data_dir, dataset)
    if data_dir:
        return folder_images(local_data_dir(data_dir), image_size, cache_dir, max_image_pixels,
                             check_count)
    if dataset:
        return tfds_images(dataset.removeprefix("tfds:"), image_size, cache_dir=cache_dir,
                           data_dir=tfds_data_dir)
    return synthetic_images(image_size, seed)


class TrainingStream:
    """An endless, seeded stream of training batches that can start at any step.

    The cached images are reshuffled on every pass by one seeded shuffle,
    so the whole sequence of batches is fixed by the seed: step ``k`` always
    sees the same images, and a resumed run picks up exactly where it stopped
    by skipping the images already consumed (cheap once the cache is full).

    With ``batches_per_step`` > 1 each element is [batch, batches_per_step, H, W, 3]:
    the real batches one WGAN-GP step consumes, element ``[:, i]`` being batch ``i``.
    """

    def __init__(self, images, count, batch_size, batches_per_step=1, seed=0):
        self.images = images  # already cached or in memory
        self.count = count
        self.batch_size = batch_size
        self.batches_per_step = batches_per_step
        self.seed = seed

    def _passes(self, _):
        """Endless passes over the images, each reshuffled by one seeded shuffle.  Made
        anew for every iterator of the stream, so that each starts the same sequence (a
        shuffle shared by the iterators would go on with its next order: Keras's ``fit``
        under a distribution strategy opens an iterator to look at one batch before it
        trains on a second one)."""
        return (self.images.shuffle(min(SHUFFLE_BUFFER, self.count), seed=self.seed,
                                    reshuffle_each_iteration=True)
                .repeat())

    @property
    def images_per_step(self):
        return self.batch_size * self.batches_per_step

    @property
    def steps_per_pass(self):
        return self.count // self.images_per_step

    def batches(self, start_step=0):
        """Float batches in [-1, 1] for steps ``start_step``, ``start_step + 1``, ..."""
        dataset = (tf.data.Dataset.from_tensors(0).flat_map(self._passes)
                   .skip(start_step * self.images_per_step)
                   .batch(self.batch_size, drop_remainder=True)
                   .map(to_float, num_parallel_calls=AUTOTUNE))
        if self.batches_per_step > 1:
            # [batches_per_step, batch, ...] -> [batch, batches_per_step, ...]: a strategy
            # splits the first axis between replicas.
            dataset = (dataset.batch(self.batches_per_step, drop_remainder=True)
                       .map(lambda step: tf.transpose(step, [1, 0, 2, 3, 4])))
        # Under a multi-worker strategy each worker takes every n-th batch.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return dataset.prefetch(AUTOTUNE).with_options(options)


def make_stream(image_size=64, batch_size=64, data_dir=None, dataset=None, seed=0,
                batches_per_step=1, cache_dir=None, tfds_data_dir=None,
                max_image_pixels=image_files.DEFAULT_MAX_PIXELS):
    """The ``TrainingStream`` of the chosen source; raises if it is smaller than a step
    (an image folder as soon as its files are counted)."""
    def check_count(count):
        if count < batch_size * batches_per_step:
            source = f"--data_dir={data_dir}" if data_dir else dataset or "the built-in data set"
            raise DataError(
                f"{source}: {count} images, fewer than one training step needs "
                f"({batches_per_step} x --batch_size={batch_size}); give more images, or a new "
                "run a smaller --batch_size" + (" or --n_critic" if batches_per_step > 1 else ""))

    if not data_dir and not dataset:
        logger.info("No --data_dir or --dataset given: training on %d built-in cartoon faces. "
                    "To train on real anime faces, download the Anime Face Dataset from Kaggle "
                    "and pass --data_dir=PATH (see README).", SYNTHETIC_IMAGES)
    images, count = load_images(image_size, data_dir, dataset, seed, cache_dir, tfds_data_dir,
                                max_image_pixels, check_count)
    check_count(count)  # files that did not decode are not counted
    return TrainingStream(images, count, batch_size, batches_per_step, seed)


def make_dataset(image_size=64, batch_size=64, data_dir=None, dataset=None, seed=0,
                 batches_per_step=1, repeat=False, tfds_data_dir=None):
    """Shuffled float batches of the chosen source: one pass, or endless with ``repeat``.

    Returns the ``tf.data.Dataset`` and the number of images.
    """
    check_whole_numbers("make_dataset", image_size=image_size, batch_size=batch_size,
                        batches_per_step=batches_per_step)
    stream = make_stream(image_size, batch_size, data_dir, dataset, seed, batches_per_step,
                         tfds_data_dir=tfds_data_dir)
    batches = stream.batches()
    if not repeat:  # a known length: Keras's progress bar shows it, and fit ends cleanly
        batches = batches.take(stream.steps_per_pass).apply(
            tf.data.experimental.assert_cardinality(stream.steps_per_pass))
    return batches, stream.count

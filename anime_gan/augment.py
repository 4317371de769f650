"""Differentiable augmentation (DiffAugment, Zhao et al., 2020) in ``keras.ops``.

The same random transformations are applied to real and generated images before
the discriminator sees them, in both the discriminator and the generator update;
being differentiable, they let gradients reach the generator.  This keeps the
discriminator from memorising a small data set.  Images are in [-1, 1].
"""

import functools

import keras
from keras import ops

from anime_gan.errors import ArgumentTypeError

POLICIES = ("color", "translation", "cutout")
CUTOUT_RATIO = 0.5  # of the image side


def parse_policy(text):
    """'color,translation' -> ('color', 'translation'); '' -> ().  Spaces and empty
    items are dropped, and a name given twice counts once (it does not augment twice)."""
    policy = tuple(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {POLICIES}")
    return policy


def as_policy(policy):
    """A policy given as 'color,translation', a sequence of names or None, as a tuple of
    names (checked)."""
    if policy is None or isinstance(policy, str):
        return parse_policy(policy)
    if not (isinstance(policy, (list, tuple)) and all(isinstance(p, str) for p in policy)):
        raise ArgumentTypeError(f"diffaugment={policy!r}: give the policy's names as a string, "
                                f"'color,translation,cutout', or a sequence of them")
    return parse_policy(",".join(policy))


def _uniform(images, seed, low=0.0, high=1.0):
    """One value per image in the images' dtype, shaped to broadcast over [N, H, W, C]."""
    batch = ops.shape(images)[0]
    return ops.cast(keras.random.uniform((batch, 1, 1, 1), low, high, seed=seed), images.dtype)


def color(images, seed):
    """Random brightness, saturation and contrast, as in DiffAugment (scaled to [-1, 1]).

    The reference applies them one after the other.  With b, s and c the three draws,
    that composition is one affine map of each pixel's colour: the channels mixed by
    c*s*I + c*(1 - s)/3 (a 3x3 matrix per image, as the channel mean of x - mean(x) is 0),
    plus (1 - c) * (the image's mean) + b.  One small matrix product instead of six
    passes over the images, and likewise backwards.
    """
    batch = ops.shape(images)[0]
    brightness = (_uniform(images, seed) - 0.5) * 2.0  # +-0.5 of [0, 1]
    saturation = _uniform(images, seed, 0.0, 2.0)
    contrast = _uniform(images, seed, 0.5, 1.5)
    # The image mean of 12k values is summed in float32 whatever the compute precision.
    image_mean = ops.cast(ops.mean(ops.cast(images, "float32"), axis=(1, 2, 3), keepdims=True),
                          images.dtype)
    keep, spread = (ops.reshape(v, (batch, 1, 1)) for v in
                    (contrast * saturation, contrast * (1.0 - saturation) / 3.0))
    mixing = keep * ops.eye(3, dtype=images.dtype) + spread  # [N, 3, 3]
    mixed = ops.matmul(ops.reshape(images, (batch, -1, 3)), mixing)
    return ops.reshape(mixed, ops.shape(images)) + ((1.0 - contrast) * image_mean + brightness)


def _move(images, shifts, centres, half):
    """Output pixel p of image n is input pixel p - shifts[n], or 0 (grey) where that is
    outside the image or p is within ``half`` of ``centres[n]`` in x and y (a cut-out
    square): one gather of pixels from the flattened batch, a zero pixel appended."""
    batch, height, width, channels = (ops.shape(images)[i] for i in range(4))
    y, x = ops.arange(height)[None, :], ops.arange(width)[None, :]
    source_y, source_x = y - shifts[:, 1:2], x - shifts[:, 0:1]  # [N, H], [N, W]
    inside = (((source_y >= 0) & (source_y < height))[:, :, None]
              & ((source_x >= 0) & (source_x < width))[:, None, :])  # [N, H, W]
    cut = ((ops.abs(ops.cast(y - centres[:, 1:2], "float32")) < half)[:, :, None]
           & (ops.abs(ops.cast(x - centres[:, 0:1], "float32")) < half)[:, None, :])
    index = (ops.arange(batch)[:, None, None] * (height * width)
             + ops.clip(source_y, 0, height - 1)[:, :, None] * width
             + ops.clip(source_x, 0, width - 1)[:, None, :])
    index = ops.where(inside & ~cut, index, batch * height * width)  # -> the zero pixel
    pixels = ops.concatenate([ops.reshape(images, (-1, channels)),
                              ops.zeros((1, channels), images.dtype)], axis=0)
    return ops.reshape(ops.take(pixels, ops.reshape(index, (-1,)), axis=0), ops.shape(images))


@ops.custom_gradient
def move(images, shifts, centres, half):
    """Translation by whole pixels ``shifts`` [N, 2] (dx, dy), then a square cut out around
    ``centres`` [N, 2] (x, y) (``half`` 0: none), both filling with 0 (grey) as the
    DiffAugment reference does: one gather, however many of the two there are.

    Its gradient is the same kind of move, back by ``shifts``, around ``centres - shifts``:
    a gather again, where automatic differentiation would scatter (slow on CPU).
    """
    shifts, centres = ops.cast(shifts, "int32"), ops.cast(centres, "int32")
    half = ops.cast(half, "float32")

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        return _compiled_move(upstream, -shifts, centres - shifts, half), None, None, None

    return _compiled_move(images, shifts, centres, half), gradient


def _compiled_move(images, shifts, centres, half):
    """``_move``; under TensorFlow compiled by XLA, its index arithmetic and gather in one
    pass (1.1 against 2.5 ms for 64 images of 64x64)."""
    if keras.backend.backend() != "tensorflow":
        return _move(images, shifts, centres, half)
    return _xla_move()(images, shifts, centres, half)


@functools.cache
def _xla_move():
    import tensorflow as tf

    return tf.function(_move, jit_compile=True)


def translate(images, shifts):
    """Shifts each image by whole pixels ``shifts`` [N, 2] (dx, dy), filling with 0 (grey)."""
    return move(images, shifts, ops.zeros_like(shifts), 0.0)


def translation_shifts(images, seed, ratio=0.125):
    """Shifts (dx, dy) uniform in [-r, r] for r = round(ratio * size), one per image."""
    size = ops.shape(images)[1]
    limit = ops.cast(ops.cast(size, "float32") * ratio + 0.5, "int32")
    return keras.random.randint((ops.shape(images)[0], 2), -limit, limit + 1, seed=seed)


def cutout_centres(images, seed):
    """Centres (x, y) of the cut-out squares, uniform over the pixels, one per image."""
    size = ops.shape(images)[1]
    return keras.random.randint((ops.shape(images)[0], 2), 0, size, seed=seed)


def cutout_half(images, ratio=CUTOUT_RATIO):
    """Half the cut-out square's side: ``ratio`` of the image's side, halved."""
    return ops.cast(ops.shape(images)[1], "float32") * ratio / 2


def cutout(images, seed):
    """Blanks (to 0, mid-grey) a random square of half the side in each image."""
    centres = cutout_centres(images, seed)
    return move(images, ops.zeros_like(centres), centres, cutout_half(images))


def diff_augment(images, policy, seed):
    """Applies the operations of ``policy`` in order; an empty policy returns ``images``.

    A translation and a cutout right after it are one ``move``, with the random draws
    of the two one after the other."""
    steps = list(policy)
    while steps:
        name = steps.pop(0)
        if name == "color":
            images = color(images, seed)
        elif name == "translation" and steps[:1] == ["cutout"]:
            steps.pop(0)
            shifts = translation_shifts(images, seed)
            images = move(images, shifts, cutout_centres(images, seed), cutout_half(images))
        elif name == "translation":
            images = translate(images, translation_shifts(images, seed))
        elif name == "cutout":
            images = cutout(images, seed)
        else:
            raise ValueError(f"unknown DiffAugment policy {name!r}; choose from {POLICIES}")
    return images

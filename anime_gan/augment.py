"""Differentiable augmentation (DiffAugment, Zhao et al., 2020) in ``keras.ops``.

The same random transformations are applied to real and generated images before
the discriminator sees them, in both the discriminator and the generator update;
being differentiable, they let gradients reach the generator.  This keeps the
discriminator from memorising a small data set.  Images are in [-1, 1].
"""

import keras
from keras import ops

POLICIES = ("color", "translation", "cutout")


def parse_policy(text):
    """'color,translation' -> ('color', 'translation'); '' -> ()."""
    policy = tuple(p for p in (text or "").split(",") if p)
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {POLICIES}")
    return policy


def _uniform(images, seed, low=0.0, high=1.0):
    """One value per image, shaped to broadcast over [N, H, W, C]."""
    batch = ops.shape(images)[0]
    return keras.random.uniform((batch, 1, 1, 1), low, high, seed=seed)


def color(images, seed):
    """Random brightness, saturation and contrast, as in DiffAugment (scaled to [-1, 1])."""
    images = images + (_uniform(images, seed) - 0.5) * 2.0  # brightness +-0.5 of [0, 1]
    mean = ops.mean(images, axis=3, keepdims=True)
    images = (images - mean) * _uniform(images, seed, 0.0, 2.0) + mean  # saturation
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _uniform(images, seed, 0.5, 1.5) + mean  # contrast


def translate(images, shifts):
    """Shifts each image by whole pixels ``shifts`` [N, 2] (dx, dy), filling with 0 (grey),
    as the DiffAugment reference does.  A gather, so that XLA can compile it."""
    batch, height, width, channels = (ops.shape(images)[i] for i in range(4))
    shifts = ops.cast(shifts, "int32")
    # Output (x, y) reads input (x - dx, y - dy).
    source_x = ops.arange(width)[None, :] - shifts[:, 0:1]  # [N, W]
    source_y = ops.arange(height)[None, :] - shifts[:, 1:2]  # [N, H]
    inside = ops.logical_and(
        ops.logical_and(source_y >= 0, source_y < height)[:, :, None],
        ops.logical_and(source_x >= 0, source_x < width)[:, None, :])  # [N, H, W]
    index = (ops.clip(source_y, 0, height - 1)[:, :, None] * width
             + ops.clip(source_x, 0, width - 1)[:, None, :])
    index = ops.broadcast_to(ops.reshape(index, (batch, -1, 1)), (batch, height * width, channels))
    moved = ops.take_along_axis(ops.reshape(images, (batch, -1, channels)), index, axis=1)
    moved = ops.reshape(moved, ops.shape(images))
    return moved * ops.cast(inside, images.dtype)[..., None]


def translation(images, seed, ratio=0.125):
    size = ops.shape(images)[1]
    limit = ops.cast(ops.cast(size, "float32") * ratio + 0.5, "int32")
    batch = ops.shape(images)[0]
    shifts = keras.random.randint((batch, 2), -limit, limit + 1, seed=seed)
    return translate(images, shifts)


def cutout_mask(size, centres, half):
    """1 outside, 0 inside a (2*half)-pixel square at ``centres`` [N, 2] (x, y): [N, S, S, 1]."""
    coords = ops.arange(size, dtype="float32")
    x = ops.abs(coords[None, None, :] - ops.cast(centres[:, 0], "float32")[:, None, None])
    y = ops.abs(coords[None, :, None] - ops.cast(centres[:, 1], "float32")[:, None, None])
    inside = ops.logical_and(x < half, y < half)
    return ops.expand_dims(1.0 - ops.cast(inside, "float32"), -1)


def cutout(images, seed, ratio=0.5):
    """Blanks (to 0, mid-grey) a random square of ``ratio`` of the side in each image."""
    size = ops.shape(images)[1]
    batch = ops.shape(images)[0]
    centres = keras.random.randint((batch, 2), 0, size, seed=seed)
    return images * cutout_mask(size, centres, ops.cast(size, "float32") * ratio / 2)


_OPERATIONS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(images, policy, seed):
    """Applies the operations of ``policy`` in order; an empty policy returns ``images``."""
    for name in policy:
        images = _OPERATIONS[name](images, seed)
    return images

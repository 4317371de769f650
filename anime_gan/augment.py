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


def color_draws(images, seed):
    """DiffAugment's random brightness, saturation and contrast (scaled to [-1, 1]) as one
    affine map of each pixel's colour x: (keep, spread, mean_weight, brightness), each
    [N, 1, 1, 1], for keep * x + spread * (the sum of x's channels) + mean_weight * (the
    image's mean) + brightness.

    The reference applies the three one after the other.  With b, s and c the draws, their
    composition is c*s*x + c*(1 - s)*(x's channel mean) + (1 - c)*(the image's mean) + b
    (the channel mean of x - mean(x) is 0).
    """
    brightness = (_uniform(images, seed) - 0.5) * 2.0  # +-0.5 of [0, 1]
    saturation = _uniform(images, seed, 0.0, 2.0)
    contrast = _uniform(images, seed, 0.5, 1.5)
    return (contrast * saturation, contrast * (1.0 - saturation) / 3.0, 1.0 - contrast,
            brightness)


def _image_mean(images):
    # The mean of 12k values is summed in float32 whatever the compute precision.
    return ops.cast(ops.mean(ops.cast(images, "float32"), axis=(1, 2, 3), keepdims=True),
                    images.dtype)


def _mix(images, keep, spread):
    """keep * x + spread * (the sum of x's channels), for each pixel x, in float32."""
    x, keep, spread = (ops.cast(v, "float32") for v in (images, keep, spread))
    return keep * x + spread * (x[..., 0:1] + x[..., 1:2] + x[..., 2:3])


@ops.custom_gradient
def color_move(images, keep, spread, mean_weight, brightness, shifts, centres, half):
    """DiffAugment's colour (``color_draws``), then a ``move``, in one XLA function after
    the images' means: each pixel's channels mixed elementwise (faster than a 3x3 product
    per image), then moved, the offset (``mean_weight`` times the image's mean, plus
    ``brightness``) added in the move's gather.  Backwards, one XLA function too: the
    mixing is its own transpose and a pixel's map commutes with moving it; the mean's
    share, the same for every pixel, is added in the move back."""
    shifts, centres, half = _move_arguments(shifts, centres, half)
    offset = mean_weight * _image_mean(images) + brightness

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        back = _compiled(_move_back)(upstream, shifts, centres, half, (keep, spread),
                                     mean_weight)
        return (back,) + (None,) * 7

    return _compiled(_move)(images, shifts, centres, half, offset, (keep, spread)), gradient


def color(images, seed):
    """Random brightness, saturation and contrast, as in DiffAugment (scaled to [-1, 1])."""
    return diff_augment(images, ("color",), seed)


def _move_arguments(shifts, centres, half):
    """A move's shifts and centres as whole pixels, and the cut-out's half side."""
    return ops.cast(shifts, "int32"), ops.cast(centres, "int32"), ops.cast(half, "float32")


def _source_pixels(images, shifts, centres, half):
    """For each output pixel, the flat index of its source pixel (clipped into the batch),
    and whether anything lands there: its source inside the image and the pixel outside
    the cut-out square (``half`` of a side around ``centres``), both [N, H, W]."""
    batch, height, width = (ops.shape(images)[i] for i in range(3))
    y, x = ops.arange(height)[None, :], ops.arange(width)[None, :]
    source_y, source_x = y - shifts[:, 1:2], x - shifts[:, 0:1]  # [N, H], [N, W]
    inside = (((source_y >= 0) & (source_y < height))[:, :, None]
              & ((source_x >= 0) & (source_x < width))[:, None, :])  # [N, H, W]
    cut = ((ops.abs(ops.cast(y - centres[:, 1:2], "float32")) < half)[:, :, None]
           & (ops.abs(ops.cast(x - centres[:, 0:1], "float32")) < half)[:, None, :])
    index = (ops.arange(batch)[:, None, None] * (height * width)
             + ops.clip(source_y, 0, height - 1)[:, :, None] * width
             + ops.clip(source_x, 0, width - 1)[:, None, :])
    return index, inside & ~cut


def _move(images, shifts, centres, half, offset=None, mixing=None):
    """Output pixel p of image n is input pixel p - shifts[n] (its channels mixed by
    ``mixing``, (keep, spread) as ``_mix`` takes them, and ``offset[n]`` added), or 0 (grey)
    where that is outside the image or p is within ``half`` of ``centres[n]`` in x and y (a
    cut-out square): one gather of pixels from the flattened batch."""
    source = images if mixing is None else _mix(images, *mixing)
    index, visible = _source_pixels(images, shifts, centres, half)
    channels = ops.shape(images)[3]
    pixels = ops.reshape(ops.take(ops.reshape(source, (-1, channels)),
                                  ops.reshape(index, (-1,)), axis=0), ops.shape(images))
    if offset is not None:
        pixels = pixels + ops.cast(offset, pixels.dtype)
    moved = ops.where(visible[..., None], pixels, ops.zeros((), pixels.dtype))
    return ops.cast(moved, images.dtype)


def _move_back(upstream, shifts, centres, half, mixing=None, mean_weight=None):
    """The gradient of a ``move`` (with ``mixing``, of a ``color_move``): the same kind of
    move, back by ``shifts``, around ``centres - shifts``; with ``mean_weight``, plus that
    times the mean of what reached the image (the gradient of an offset proportional to the
    image's mean)."""
    back = _move(upstream, -shifts, centres - shifts, half, mixing=mixing)
    if mean_weight is None:
        return back
    _, visible = _source_pixels(upstream, shifts, centres, half)
    upstream = ops.cast(upstream, "float32")  # summed in float32, as the forward mean is
    reached = ops.mean(ops.where(visible[..., None], upstream, 0.0), axis=(1, 2, 3),
                       keepdims=True)
    return back + mean_weight * ops.cast(reached, back.dtype)


@ops.custom_gradient
def move(images, shifts, centres, half):
    """Translation by whole pixels ``shifts`` [N, 2] (dx, dy), then a square cut out around
    ``centres`` [N, 2] (x, y) (``half`` 0: none), both filling with 0 (grey) as the
    DiffAugment reference does: one gather, however many of the two there are.

    Its gradient is the same kind of move back (``_move_back``): a gather again, where
    automatic differentiation would scatter (slow on CPU).
    """
    shifts, centres, half = _move_arguments(shifts, centres, half)

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        return _compiled(_move_back)(upstream, shifts, centres, half), None, None, None

    return _compiled(_move)(images, shifts, centres, half), gradient


def _compiled(function):
    """``function``; under TensorFlow compiled by XLA, its index arithmetic, gather and
    additions in one pass (the move: 1.1 against 2.5 ms for 64 images of 64x64)."""
    if keras.backend.backend() != "tensorflow":
        return function
    return _xla(function)


@functools.cache
def _xla(function):
    import tensorflow as tf

    return tf.function(function, jit_compile=True)


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
    return diff_augment(images, ("cutout",), seed)


def _passes(policy):
    """The policy's operations in groups of one pass each: each group a run of them in the
    order color, translation, cutout ("cutout,color" is two passes)."""
    groups = []
    for name in policy:
        if name not in POLICIES:
            raise ValueError(f"unknown DiffAugment policy {name!r}; choose from {POLICIES}")
        if groups and POLICIES.index(name) > POLICIES.index(groups[-1][-1]):
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def diff_augment(images, policy, seed):
    """Applies the operations of ``policy`` in order; an empty policy returns ``images``.

    A colour, translation and cutout that follow one another are one ``color_move`` (one
    ``move`` without the colour), their random draws made in that order."""
    for group in _passes(policy):
        colour = color_draws(images, seed) if "color" in group else None
        shifts = centres = ops.zeros((ops.shape(images)[0], 2), "int32")
        half = 0.0
        if "translation" in group:
            shifts = translation_shifts(images, seed)
        if "cutout" in group:
            centres, half = cutout_centres(images, seed), cutout_half(images)
        images = (move(images, shifts, centres, half) if colour is None
                  else color_move(images, *colour, shifts, centres, half))
    return images

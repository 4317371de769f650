import keras
import numpy as np
import pytest
import tensorflow as tf

from anime_gan import augment


def images(n=4, size=16, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)),
                       tf.float32)


def test_parse_policy():
    assert augment.parse_policy("") == ()
    assert augment.parse_policy("color,cutout") == ("color", "cutout")
    with pytest.raises(ValueError, match="unknown DiffAugment policy"):
        augment.parse_policy("color,flip")
    assert augment.parse_policy(" color, cutout,") == ("color", "cutout")
    assert augment.parse_policy("color,,cutout,color") == ("color", "cutout")  # once each


def test_the_config_records_one_spelling_of_the_policy():
    from anime_gan import TrainConfig

    assert TrainConfig(diffaugment="color, translation,", output_dir="x").diffaugment == (
        "color,translation")
    assert TrainConfig(diffaugment=None, output_dir="x").diffaugment == (
        "color,translation,cutout")  # the DCGAN's default


def test_empty_policy_is_the_identity():
    x = images()
    assert augment.diff_augment(x, (), keras.random.SeedGenerator(0)) is x


def test_translate_moves_content_by_whole_pixels_and_fills_grey():
    x = np.zeros((2, 8, 8, 1), np.float32)
    x[:, 2, 3, 0] = 1.0  # one bright pixel at row 2, column 3
    shifted = np.asarray(augment.translate(tf.constant(x), tf.constant([[2, 1], [-3, 0]])))
    assert shifted[0, 3, 5, 0] == 1.0 and shifted[0].sum() == 1.0  # dx=2, dy=1
    assert shifted[1, 2, 0, 0] == 1.0 and shifted[1].sum() == 1.0  # dx=-3
    ones = np.asarray(augment.translate(tf.ones((1, 8, 8, 1)), tf.constant([[2, 0]])))
    assert np.all(ones[0, :, :2] == 0.0) and np.all(ones[0, :, 2:] == 1.0)


def test_cutout_blanks_a_square_of_the_right_size():
    ones = tf.ones((1, 16, 16, 1))
    cut = np.asarray(augment.move(ones, tf.constant([[0, 0]]), tf.constant([[8, 8]]), 4.0))
    mask = cut[0, :, :, 0]
    assert (mask == 0).sum() == 7 * 7  # |x - 8| < 4 -> x in 5..11
    assert np.all(mask[5:12, 5:12] == 0) and mask[4, 8] == 1 and mask[8, 12] == 1


def test_move_translates_then_cuts_in_output_coordinates():
    x = np.arange(2 * 8 * 8 * 2, dtype=np.float32).reshape(2, 8, 8, 2) + 1
    shifts, centres = np.array([[2, -1], [-3, 4]]), np.array([[1, 6], [5, 2]])
    moved = np.asarray(augment.move(tf.constant(x), tf.constant(shifts), tf.constant(centres),
                                    2.0))
    expected = np.zeros_like(x)
    for n, ((dx, dy), (cx, cy)) in enumerate(zip(shifts, centres)):
        for y in range(8):
            for x_ in range(8):
                inside = 0 <= y - dy < 8 and 0 <= x_ - dx < 8
                if inside and not (abs(x_ - cx) < 2 and abs(y - cy) < 2):
                    expected[n, y, x_] = x[n, y - dy, x_ - dx]
    np.testing.assert_array_equal(moved, expected)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_move_gradient_is_the_gradient_of_the_gather(dtype):
    """The hand-written gradient (a move back) equals what autodiff of the gather gives."""
    x = tf.cast(images(6, 12), dtype)
    shifts = tf.constant([[3, -2], [-5, 0], [0, 0], [11, 1], [-1, -12], [2, 2]])
    centres = tf.constant([[0, 0], [6, 6], [11, 3], [4, 11], [5, 5], [9, 1]])
    upstream = tf.cast(images(6, 12, seed=1), dtype)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        fast = augment.move(x, shifts, centres, 3.0)
        reference = augment._move(x, shifts, centres, 3.0)
    np.testing.assert_array_equal(fast, reference)
    np.testing.assert_array_equal(tape.gradient(fast, x, output_gradients=upstream),
                                  tape.gradient(reference, x, output_gradients=upstream))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_color_move_gradient_is_the_gradient_of_its_operations(dtype):
    """The colour's affine map then the move, in one XLA function with a hand-written
    gradient (the mixing, its own transpose, and the mean's share in the move back), against
    automatic differentiation of the same operations one after the other (the mean moved
    out of the image by a shift or cut out still counts, in the gradient too)."""
    x = tf.cast(images(6, 12), dtype)
    keep, spread, mean_weight, brightness = augment.color_draws(x,
                                                                keras.random.SeedGenerator(4))
    shifts = tf.constant([[3, -2], [-5, 0], [0, 0], [11, 1], [-1, -12], [2, 2]])
    centres = tf.constant([[0, 0], [6, 6], [11, 3], [4, 11], [5, 5], [9, 1]])
    upstream = tf.cast(images(6, 12, seed=1) + 1.0, dtype)  # a mean the share shows in
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        fast = augment.color_move(x, keep, spread, mean_weight, brightness, shifts, centres,
                                  3.0)
        mean = tf.reduce_mean(x, axis=(1, 2, 3), keepdims=True)
        mixed = keep * x + spread * tf.reduce_sum(x, axis=3, keepdims=True)
        reference = augment._move(mixed + mean_weight * mean + brightness, shifts, centres,
                                  3.0)
    tolerance = dict(float32=1e-6, bfloat16=0.02)[dtype]
    np.testing.assert_allclose(tf.cast(fast, tf.float32), tf.cast(reference, tf.float32),
                               atol=tolerance)
    gradients = [tf.cast(tape.gradient(y, x, output_gradients=upstream), tf.float32)
                 for y in (fast, reference)]
    np.testing.assert_allclose(*gradients, atol=tolerance)
    assert np.abs(gradients[1]).max() > 0.5  # mixing and mean both in it
    cut = np.asarray(fast)[1, 5:8, 5:8]  # inside image 1's cut-out square
    assert np.all(cut == 0)


def test_operations_in_policy_order_share_a_pass_and_others_follow_in_turn():
    assert augment._passes(("color", "translation", "cutout")) == [
        ["color", "translation", "cutout"]]
    assert augment._passes(("color", "cutout")) == [["color", "cutout"]]
    assert augment._passes(("cutout", "translation", "color")) == [
        ["cutout"], ["translation"], ["color"]]
    assert augment._passes(("translation", "cutout", "color")) == [
        ["translation", "cutout"], ["color"]]
    # Moved first, then coloured: the colour's mean counts the grey the move let in.
    x = images(4, 16)
    fast = augment.diff_augment(x, ("translation", "color"), keras.random.SeedGenerator(6))
    seed = keras.random.SeedGenerator(6)
    moved = np.asarray(augment.translate(x, augment.translation_shifts(x, seed)))
    keep, spread, mean_weight, brightness = (np.asarray(v) for v in augment.color_draws(x, seed))
    mean = moved.mean(axis=(1, 2, 3), keepdims=True)
    expected = (keep * moved + spread * moved.sum(axis=3, keepdims=True)
                + mean_weight * mean + brightness)
    np.testing.assert_allclose(fast, expected, atol=1e-5)


def reference_diff_augment(x, seed):
    """DiffAugment's reference operations (Zhao et al., their PyTorch code) in NumPy, scaled
    to [-1, 1], drawing the same random numbers in the same order as ``augment``."""
    n, size = x.shape[0], x.shape[1]

    def uniform(low, high):
        return np.asarray(keras.random.uniform((n, 1, 1, 1), low, high, seed=seed))
    x = x + (uniform(0.0, 1.0) - 0.5) * 2.0
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * uniform(0.0, 2.0) + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * uniform(0.5, 1.5) + mean
    limit = int(size * 0.125 + 0.5)
    shifts = np.asarray(keras.random.randint((n, 2), -limit, limit + 1, seed=seed))
    padded = np.pad(x, ((0, 0), (limit, limit), (limit, limit), (0, 0)))
    x = np.stack([padded[i, limit - dy:limit - dy + size, limit - dx:limit - dx + size]
                  for i, (dx, dy) in enumerate(shifts)])
    centres = np.asarray(keras.random.randint((n, 2), 0, size, seed=seed))
    half = size * 0.5 / 2
    coords = np.arange(size)
    for i, (cx, cy) in enumerate(centres):
        x[i][np.ix_(np.abs(coords - cy) < half, np.abs(coords - cx) < half)] = 0.0
    return x


def test_the_fast_policy_draws_and_applies_the_reference_transforms():
    x = np.asarray(images(16, 32, seed=4))
    fast = np.asarray(augment.diff_augment(tf.constant(x), augment.POLICIES,
                                           keras.random.SeedGenerator(9)))
    reference = reference_diff_augment(x, keras.random.SeedGenerator(9))
    np.testing.assert_allclose(fast, reference, atol=2e-6)


def test_the_transforms_are_distributed_as_the_reference_draws_them():
    """Over many images: shifts uniform on [-8, 8] per axis, cut-out squares of 31x31
    centred uniformly (clipped at the border), brightness uniform in [-1, 1)."""
    n, size = 4096, 64
    seed = keras.random.SeedGenerator(11)
    dot = np.zeros((n, size, size, 1), np.float32)
    dot[:, 32, 32] = 1.0
    moved = np.asarray(augment.translate(tf.constant(dot), augment.translation_shifts(
        tf.constant(dot), seed)))[..., 0]
    ys, xs = np.nonzero(moved.reshape(n, -1))[1] // size, np.nonzero(moved.reshape(n, -1))[1] % size
    for offsets in (xs - 32, ys - 32):
        counts = np.bincount(offsets + 8, minlength=17)
        assert len(counts) == 17 and counts.min() > 0.7 * n / 17 and counts.max() < 1.3 * n / 17
    blanked = 1 - np.asarray(augment.cutout(tf.ones((n, size, size, 1)), seed))[..., 0]
    rows, cols = blanked.max(axis=2), blanked.max(axis=1)
    assert rows.sum(axis=1).max() == 31 and cols.sum(axis=1).max() == 31  # |x - c| < 16
    centre_rows = np.bincount(np.argmax(rows, axis=1) + rows.sum(axis=1).astype(int) // 2,
                              minlength=size)
    assert 0.5 * n / size < np.median(centre_rows) < 1.5 * n / size
    grey = augment.color(tf.zeros((n, 4, 4, 3)), seed)  # a flat image: only brightness acts
    brightness = np.asarray(grey)[:, 0, 0, 0]
    assert -1.0 <= brightness.min() < -0.95 and 0.95 < brightness.max() < 1.0
    assert abs(brightness.mean()) < 0.05 and abs(brightness.std() - 2 / np.sqrt(12)) < 0.02


def test_the_colour_is_distributed_as_the_reference_draws_it():
    """Over many images of four pixels, built so that each draw can be read back: a grey
    pair (+a and -a) gives the contrast and brightness, a pixel (a, -a, 0) of channel mean
    0 the saturation.  The reference draws brightness uniform in [-1, 1) (scaled to
    [-1, 1]), saturation in [0, 2) and contrast in [0.5, 1.5), independently."""
    n, a = 8192, 0.25
    pixels = np.array([[a, a, a], [-a, -a, -a], [a, -a, 0.0], [-a, a, 0.0]], np.float32)
    x = tf.constant(np.tile(pixels.reshape(1, 2, 2, 3), (n, 1, 1, 1)))  # image mean 0
    y = np.asarray(augment.color(x, keras.random.SeedGenerator(12)), np.float64)
    light, dark, coloured = y[:, 0, 0, 0], y[:, 0, 1, 0], y[:, 1, 0]
    contrast = (light - dark) / (2 * a)
    brightness = (light + dark) / 2
    saturation = (coloured[:, 0] - coloured[:, 1]) / (2 * a) / contrast
    for draws, low, high in ((brightness, -1.0, 1.0), (saturation, 0.0, 2.0),
                             (contrast, 0.5, 1.5)):
        width = high - low
        assert low - 1e-5 <= draws.min() < low + 0.01 * width
        assert high - 0.01 * width < draws.max() <= high + 1e-5
        assert abs(draws.mean() - (low + high) / 2) < 0.02 * width
        assert abs(draws.std() - width / np.sqrt(12)) < 0.02 * width
    correlations = np.corrcoef([brightness, saturation, contrast])
    assert np.abs(correlations[np.triu_indices(3, 1)]).max() < 0.05


@pytest.mark.parametrize("policy", [("color",), ("translation",), ("cutout",),
                                    ("color", "translation", "cutout")])
def test_each_policy_changes_images_and_passes_gradients(policy):
    x = tf.Variable(images())
    with tf.GradientTape() as tape:
        y = augment.diff_augment(x, policy, keras.random.SeedGenerator(1))
        total = tf.reduce_sum(y * y)
    gradient = tape.gradient(total, x)
    assert y.shape == x.shape
    assert not np.allclose(np.asarray(y), x.numpy())
    assert gradient is not None and np.all(np.isfinite(gradient.numpy()))
    assert np.abs(gradient.numpy()).sum() > 0


def test_augmentations_differ_per_image_and_are_seeded():
    x = tf.repeat(images(1), 8, axis=0)
    a = np.asarray(augment.diff_augment(x, ("translation", "cutout"), keras.random.SeedGenerator(3)))
    b = np.asarray(augment.diff_augment(x, ("translation", "cutout"), keras.random.SeedGenerator(3)))
    np.testing.assert_array_equal(a, b)
    assert len({row.tobytes() for row in a}) > 1


def test_whole_policy_compiles_with_xla_and_matches():
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 3)), tf.float32)

    seed = keras.random.SeedGenerator(5)

    def augmented():
        return augment.diff_augment(images, augment.POLICIES, seed)

    compiled = tf.function(augmented, jit_compile=True)()
    assert compiled.shape == images.shape and np.all(np.isfinite(compiled.numpy()))
    shifts = tf.constant([[2, -1], [0, 5], [-3, 0]])
    np.testing.assert_array_equal(tf.function(augment.translate, jit_compile=True)(images, shifts),
                                  augment.translate(images, shifts))


def test_augmentation_runs_in_the_precision_it_is_given():
    x = tf.cast(images(), "bfloat16")
    y = augment.diff_augment(x, augment.POLICIES, keras.random.SeedGenerator(2))
    assert y.dtype == tf.bfloat16
    reference = augment.diff_augment(images(), augment.POLICIES, keras.random.SeedGenerator(2))
    np.testing.assert_allclose(tf.cast(y, tf.float32), reference, atol=0.05)

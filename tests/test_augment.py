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


def test_cutout_mask_blanks_a_square_of_the_right_size():
    mask = np.asarray(augment.cutout_mask(16, tf.constant([[8, 8]]), 4.0))[0, :, :, 0]
    assert mask.shape == (16, 16)
    assert (mask == 0).sum() == 7 * 7  # |x - 8| < 4 -> x in 5..11
    assert np.all(mask[5:12, 5:12] == 0) and mask[4, 8] == 1 and mask[8, 12] == 1


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

"""The bottleneck convolutions compute what Keras's layers do, take their weight gradient by
patches exactly where it pays (bfloat16, next to the 4x4 bottleneck), and save as Keras's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from anime_gan import build_critic, build_discriminator, build_generator, patches_conv
from anime_gan.devices import precision
from patch_uses import record_patch_uses

CASES = {  # layer classes, keyword arguments, input shape
    "conv": (keras.layers.Conv2D, patches_conv.Conv2D,
             dict(filters=16, use_bias=False), (4, 8, 8, 12)),
    "transposed": (keras.layers.Conv2DTranspose, patches_conv.Conv2DTranspose,
                   dict(filters=12, use_bias=False), (4, 4, 4, 16)),
}


def pair(case, policy, input_shape=None):
    """A Keras layer and ours with the same weights (4x4, stride 2, same)."""
    keras_class, our_class, kwargs, shape = CASES[case]
    shape = input_shape or shape
    layers = [cls(kernel_size=4, strides=2, padding="same", dtype=policy, **kwargs)
              for cls in (keras_class, our_class)]
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.build(shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layers[0].weights]
    for layer in layers:
        layer.set_weights(weights)
    return layers, shape


def outputs_and_gradients(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    gradients = tape.gradient(y, [x] + layer.trainable_weights,
                              output_gradients=tf.cast(upstream, y.dtype))
    return [np.asarray(tf.cast(t, tf.float32)) for t in [y] + gradients]


@pytest.fixture
def spy(monkeypatch):
    """Records each use of the patches: (which, input shape)."""
    return record_patch_uses(monkeypatch.setattr)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-5), ("mixed_bfloat16", 2e-2)])
def test_outputs_and_gradients_match_keras(case, policy, tolerance, spy):
    (keras_layer, ours), shape = pair(case, policy)
    x = tf.random.normal(shape, seed=1)
    upstream = tf.random.normal(keras_layer.compute_output_shape(shape), seed=2)
    expected, got = (outputs_and_gradients(layer, x, upstream) for layer in (keras_layer, ours))
    for name, e, g in zip(("output", "input gradient", "weight gradient"), expected, got):
        scale = np.abs(e).max()
        assert np.abs(g - e).max() <= tolerance * scale, name
    assert len(spy) == (1 if policy == "mixed_bfloat16" else 0)


def test_weight_gradient_is_the_sum_of_patches_times_output_gradients():
    """By hand: one input channel, one output channel, a 4x4 input (padded by one on each
    side) and a 2x2 output, so each kernel tap's gradient is a sum of four products."""
    x = tf.reshape(tf.range(1.0, 17.0), (1, 4, 4, 1))
    dy = tf.constant([1.0, -2.0, 0.5, 3.0], shape=(1, 2, 2, 1))
    got = patches_conv.weight_gradient_by_patches(x, dy, (4, 4, 1, 1))[..., 0, 0].numpy()
    padded = np.pad(x.numpy()[0, ..., 0], 1)
    expected = sum(dy.numpy()[0, i, j, 0] * padded[2 * i:2 * i + 4, 2 * j:2 * j + 4]
                   for i in range(2) for j in range(2))
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("image_size, bottleneck_layers", [
    (64, [("_upsample", (2, 4, 4, 512)), ("_downsample", (2, 8, 8, 256))]),
    (128, [("_upsample", (2, 4, 4, 1024)), ("_downsample", (2, 8, 8, 512))])])
def test_patches_are_used_next_to_the_bottleneck_in_bfloat16_only(image_size,
                                                                 bottleneck_layers, spy):
    for policy, expected in (("bfloat16", bottleneck_layers), ("float32", [])):
        with precision(policy):
            generator = build_generator(8, image_size)
            discriminator = build_discriminator(image_size)
        spy.clear()
        discriminator(generator(tf.zeros((2, 8)), training=True), training=True)
        assert spy == expected, policy


def test_odd_sizes_biases_and_other_strides_fall_back_to_keras(spy):
    (keras_layer, ours), shape = pair("conv", "mixed_bfloat16", input_shape=(2, 7, 7, 12))
    x = tf.random.normal(shape)
    np.testing.assert_array_equal(ours(x), keras_layer(x))
    for kwargs in (dict(strides=1), dict(strides=2, use_bias=True)):
        layer = patches_conv.Conv2D(4, 4, padding="same", dtype="mixed_bfloat16", **kwargs)
        layer(tf.zeros((2, 8, 8, 3)))
    assert spy == []


def test_the_critics_with_biases_keep_keras_convolutions(spy):
    with precision("bfloat16"):
        build_critic(64)(tf.zeros((2, 64, 64, 3)), training=True)
    assert spy == []


def small_discriminator(conv_class):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 12)),
        conv_class(16, 4, strides=2, padding="same", use_bias=False, dtype="mixed_bfloat16"),
        keras.layers.LeakyReLU(0.2), keras.layers.Flatten(), keras.layers.Dense(1)])


def test_a_gradient_penalty_differentiates_through_the_patches(spy):
    """A gradient penalty (WGAN-GP's, R1) differentiates the input gradient again with
    respect to the weights: the custom gradient must be differentiable, and equal to
    Keras's."""
    images = tf.random.normal((4, 8, 8, 12), seed=3)
    results = []
    for conv_class in (keras.layers.Conv2D, patches_conv.Conv2D):
        discriminator = small_discriminator(conv_class)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(images)
                scores = discriminator(images, training=True)
            slopes = inner.gradient(scores, images)
            norms = tf.norm(tf.reshape(slopes, (4, -1)), axis=1)
            penalty = tf.reduce_mean(tf.square(norms - 1))
        results.append(outer.gradient(penalty, discriminator.trainable_weights[0]).numpy())
    assert spy == [("_downsample", (4, 8, 8, 12))]
    keras_gradient, our_gradient = results
    assert np.abs(keras_gradient).max() > 0
    assert np.abs(our_gradient - keras_gradient).max() <= 3e-2 * np.abs(keras_gradient).max()

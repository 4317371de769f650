"""The bottleneck convolutions compute what Keras's layers do, by patches exactly where it
pays (float32 and bfloat16, next to the 4x4 bottleneck), and save as Keras's."""

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


def pair(case, policy, input_shape=None, cases=CASES):
    """A Keras layer and ours with the same weights (4x4, stride 2, same)."""
    keras_class, our_class, kwargs, shape = cases[case]
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
        y = layer(x, training=True)
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
    assert len(spy) == 1


def by_hand(x, kernel, dy):
    """A 4x4 stride-2 SAME convolution, its input gradient and its weight gradient, as
    loops over the output positions of the input padded by one pixel."""
    batch, size, _, channels = x.shape
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    y = np.zeros((batch, size // 2, size // 2, kernel.shape[-1]))
    d_padded, d_kernel = np.zeros_like(padded), np.zeros_like(kernel)
    for i in range(size // 2):
        for j in range(size // 2):
            patch = padded[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4, :]
            y[:, i, j] = np.einsum("nabc,abck->nk", patch, kernel)
            d_padded[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4, :] += np.einsum(
                "abck,nk->nabc", kernel, dy[:, i, j])
            d_kernel += np.einsum("nabc,nk->abck", patch, dy[:, i, j])
    return y, d_padded[:, 1:-1, 1:-1, :], d_kernel


def test_the_patches_compute_the_convolution_and_both_gradients_by_hand():
    """The patches, their kernel rows and the adding back, against loops over positions:
    a 4x4 input with two channels (padded by one on each side), a 2x2 output with three."""
    rng = np.random.default_rng(4)
    x, kernel = rng.normal(size=(2, 4, 4, 2)), rng.normal(size=(4, 4, 2, 3))
    dy = rng.normal(size=(2, 2, 2, 3))
    x_t, kernel_t = tf.constant(x, tf.float64), tf.constant(kernel, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([x_t, kernel_t])
        y = patches_conv.downsample_by_patches(x_t, kernel_t)
    got = [y.numpy(), *(g.numpy() for g in tape.gradient(y, [x_t, kernel_t],
                                                         output_gradients=dy))]
    for name, expected, actual in zip(("output", "input gradient", "weight gradient"),
                                      by_hand(x, kernel, dy), got):
        np.testing.assert_allclose(actual, expected, rtol=1e-10, err_msg=name)


def test_the_transposed_product_is_the_adjoint_of_the_patches_product():
    """<patches(x) @ kernel, y> == <x, transposed_product(y, kernel)>: what the input
    gradient and the transposed convolution rely on."""
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(3, 8, 6, 5)))
    kernel = tf.constant(rng.normal(size=(4, 4, 5, 7)))
    y = tf.constant(rng.normal(size=(3, 4, 3, 7)))
    rows = patches_conv.patches(x)
    assert rows.shape == (3, 4, 3, 16 * 5)
    # Position (1, 2)'s patch: rows 1..4, columns 3..6 of x padded by one pixel.
    padded = np.pad(x.numpy(), [(0, 0), (1, 1), (1, 1), (0, 0)])
    np.testing.assert_array_equal(rows[:, 1, 2], padded[:, 2:6, 4:8].reshape(3, -1))
    product = tf.einsum("nhwr,rk->nhwk", rows, tf.reshape(kernel, (80, 7)))
    back = patches_conv.transposed_product(y, kernel)
    assert back.shape == x.shape
    np.testing.assert_allclose(float(tf.reduce_sum(product * y)),
                               float(tf.reduce_sum(x * back)), rtol=1e-12)


@pytest.mark.parametrize("image_size, bottleneck_layers", [
    (64, [("upsample_by_patches", (2, 4, 4, 512)), ("downsample_by_patches", (2, 8, 8, 256))]),
    (128, [("upsample_by_patches", (2, 4, 4, 1024)), ("downsample_by_patches", (2, 8, 8, 512))])])
def test_patches_are_used_next_to_the_bottleneck_in_float32_and_bfloat16(image_size,
                                                                        bottleneck_layers,
                                                                        spy):
    """And, in float32 only, for the slow pass at the image: the generator's ``to_rgb``
    and the discriminator's ``down1``."""
    up1, down4 = bottleneck_layers
    half = image_size // 2
    at_image = [up1, ("upsample_to_image", (2, half, half, 64)),
                ("downsample_image", (2, image_size, image_size, 3)), down4]
    for policy, expected in (("bfloat16", bottleneck_layers), ("float32", at_image),
                             ("float16", [])):
        with precision(policy):
            generator = build_generator(8, image_size)
            discriminator = build_discriminator(image_size)
        spy.clear()
        discriminator(generator(tf.zeros((2, 8)), training=True), training=True)
        assert spy == expected, policy


def test_odd_sizes_biases_and_other_strides_fall_back_to_keras(spy):
    (keras_layer, ours), shape = pair("conv", "mixed_bfloat16", input_shape=(2, 7, 7, 12))
    x = tf.random.normal(shape)
    np.testing.assert_array_equal(ours(x, training=True), keras_layer(x, training=True))
    for kwargs in (dict(strides=1), dict(strides=2, use_bias=True)):
        layer = patches_conv.Conv2D(4, 4, padding="same", dtype="mixed_bfloat16", **kwargs)
        layer(tf.zeros((2, 8, 8, 3)), training=True)
    assert spy == []


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_inference_computes_exactly_as_keras(case, policy, spy):
    """Outside training the layers are Keras's own: a network gives the very images its
    saved file (plain Keras layers) and its SavedModel give."""
    (keras_layer, ours), shape = pair(case, policy)
    x = tf.random.normal(shape, seed=1)
    for training in (False, None):
        np.testing.assert_array_equal(ours(x, training=training), keras_layer(x))
    assert spy == []


def test_the_critics_with_biases_keep_keras_convolutions(spy):
    with precision("bfloat16"):
        build_critic(64)(tf.zeros((2, 64, 64, 3)), training=True)
    assert spy == []


def small_discriminator(conv_class, policy):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 12)),
        conv_class(16, 4, strides=2, padding="same", use_bias=False, dtype=policy),
        keras.layers.LeakyReLU(0.2), keras.layers.Flatten(), keras.layers.Dense(1)])


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-5), ("mixed_bfloat16", 3e-2)])
def test_a_gradient_penalty_differentiates_through_the_patches(policy, tolerance, spy):
    """A gradient penalty (WGAN-GP's, R1) differentiates the input gradient again with
    respect to the weights: the custom gradient (in float32, its XLA-compiled copies)
    must be differentiable, and equal to Keras's."""
    images = tf.random.normal((4, 8, 8, 12), seed=3)
    results = []
    for conv_class in (keras.layers.Conv2D, patches_conv.Conv2D):
        discriminator = small_discriminator(conv_class, policy)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(images)
                scores = discriminator(images, training=True)
            slopes = inner.gradient(scores, images)
            norms = tf.norm(tf.reshape(slopes, (4, -1)), axis=1)
            penalty = tf.reduce_mean(tf.square(norms - 1))
        results.append(outer.gradient(penalty, discriminator.trainable_weights[0]).numpy())
    assert spy == [("downsample_by_patches", (4, 8, 8, 12))]
    keras_gradient, our_gradient = results
    assert np.abs(keras_gradient).max() > 0
    assert np.abs(our_gradient - keras_gradient).max() <= \
        tolerance * np.abs(keras_gradient).max()


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-6), ("mixed_bfloat16", 2e-2)])
def test_the_projection_of_a_vector_matches_keras(policy, tolerance, monkeypatch):
    """The generator's first layer (1x1 -> 4x4, stride 1, VALID) is one matrix product,
    with the output and gradients of Keras's transposed convolution."""
    layers = [cls(6, 4, strides=1, padding="valid", use_bias=False, dtype=policy)
              for cls in (keras.layers.Conv2DTranspose, patches_conv.Conv2DTranspose)]
    for layer in layers:
        layer.build((3, 1, 1, 5))
    kernel = np.random.default_rng(6).normal(size=(4, 4, 6, 5)).astype("float32")
    for layer in layers:
        layer.set_weights([kernel])
    projected = []
    monkeypatch.setattr(patches_conv, "_project", lambda x, k, f=patches_conv._project: (
        projected.append(tuple(x.shape)), f(x, k))[1])
    x = tf.random.normal((3, 1, 1, 5), seed=7)
    upstream = tf.random.normal((3, 4, 4, 6), seed=8)
    expected, got = (outputs_and_gradients(layer, x, upstream) for layer in layers)
    assert projected == [(3, 1, 1, 5)]
    assert got[0].shape == (3, 4, 4, 6)
    for name, e, g in zip(("output", "input gradient", "weight gradient"), expected, got):
        assert np.abs(g - e).max() <= tolerance * np.abs(e).max(), name
    # By hand: output pixel (i, j), channel o is the input vector times kernel[i, j, o].
    np.testing.assert_allclose(got[0][1, 2, 3], kernel[2, 3] @ x.numpy()[1, 0, 0],
                               rtol=tolerance)


def test_a_generator_saved_with_the_projection_loads_as_keras_layers(tmp_path):
    generator = build_generator(8, 64)
    assert type(generator.get_layer("project")) is patches_conv.Conv2DTranspose
    generator.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    assert type(loaded.get_layer("project")) is keras.layers.Conv2DTranspose
    z = tf.random.normal((2, 8), seed=9)
    np.testing.assert_allclose(loaded(z, training=False), generator(z, training=False),
                               atol=1e-5)

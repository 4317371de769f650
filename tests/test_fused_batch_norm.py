"""The fused batch normalization computes what Keras's layer does and saves as it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from anime_gan import build_generator, fused_batch_norm
from plain_keras import outputs_without_anime_gan


def pair(policy, channels=5):
    """A Keras batch normalization and a fused one with the same (non-trivial) weights."""
    layers = [cls(momentum=0.9, epsilon=1e-5, dtype=policy)
              for cls in (keras.layers.BatchNormalization, fused_batch_norm.BatchNormalization)]
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.build((None, 6, 6, channels))
    weights = [rng.uniform(0.5, 1.5, channels).astype("float32"),
               rng.normal(size=channels).astype("float32"),
               rng.normal(size=channels).astype("float32"),
               rng.uniform(0.5, 2.0, channels).astype("float32")]
    for layer in layers:
        layer.set_weights(weights)
    return layers


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-5), ("mixed_bfloat16", 1e-2)])
def test_training_step_matches_keras_outputs_gradients_and_moving_statistics(policy, tolerance):
    keras_bn, fused_bn = pair(policy)
    x = tf.random.normal((8, 6, 6, 5), seed=1) * 3.0 + 1.0
    upstream = tf.random.normal((8, 6, 6, 5), seed=2)
    results = []
    for layer in (keras_bn, fused_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        gradients = tape.gradient(y, [x] + layer.trainable_weights,
                                  output_gradients=tf.cast(upstream, y.dtype))
        assert y.dtype == keras_bn.compute_dtype
        results.append([tf.cast(y, tf.float32)] + gradients)
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # The moving variance is the biased one, as Keras keeps it.
    np.testing.assert_allclose(fused_bn.moving_mean, keras_bn.moving_mean, atol=1e-6)
    np.testing.assert_allclose(fused_bn.moving_variance, keras_bn.moving_variance, rtol=1e-5)
    np.testing.assert_allclose(
        keras_bn.moving_variance.numpy(),
        0.9 * pair("float32")[0].moving_variance.numpy()
        + 0.1 * np.var(tf.cast(tf.cast(x, keras_bn.compute_dtype), tf.float32), (0, 1, 2)),
        rtol=1e-4)


def test_inference_is_keras_own():
    keras_bn, fused_bn = pair("float32")
    x = tf.random.normal((4, 6, 6, 5))
    np.testing.assert_array_equal(fused_bn(x, training=False), keras_bn(x, training=False))


def test_generator_saves_as_plain_keras_and_loads_without_anime_gan(tmp_path):
    generator = build_generator(16, 64)
    assert any(isinstance(layer, fused_batch_norm.BatchNormalization)
               for layer in generator.layers)
    latents = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    np.testing.assert_allclose(outputs_without_anime_gan(generator, latents, tmp_path),
                               generator(latents), atol=1e-6)


def test_nan_inputs_stay_nan_through_a_following_relu_in_a_traced_step():
    """TensorFlow's optimizer fuses batch norm with a ReLU into a kernel that turns NaN into
    0; a diverged network must not go on with finite losses."""
    layer = fused_batch_norm.BatchNormalization()
    layer.build((None, 4, 4, 8))
    x = tf.Variable(tf.fill((4, 4, 4, 8), np.nan))

    @tf.function
    def step():
        return tf.nn.relu(layer(x, training=True))
    assert np.all(np.isnan(step().numpy()))

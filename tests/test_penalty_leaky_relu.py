"""The penalty's LeakyReLU has Keras's outputs and first and second derivatives, and saves
as Keras's layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from anime_gan import build_critic, build_discriminator, losses, penalty_leaky_relu
from anime_gan.networks import build_sn_discriminator
from plain_keras import outputs_without_anime_gan


def critic_with(leaky_relu_class, seed=0):
    keras.utils.set_random_seed(seed)
    critic = build_critic(64)
    for layer in critic.layers:
        if isinstance(layer, keras.layers.LeakyReLU):
            layer.__class__ = leaky_relu_class
    return critic


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-6), ("mixed_bfloat16", 1e-2)])
def test_outputs_and_first_and_second_derivatives_match_keras(policy, tolerance):
    x = tf.constant([[-2.0, -0.5, 0.25, 3.0]])
    scale = tf.Variable([[1.5, -2.0, 0.5, 1.0]])
    results = []
    for cls in (keras.layers.LeakyReLU, penalty_leaky_relu.LeakyReLU):
        layer = cls(negative_slope=0.2, dtype=policy)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.cast(layer(x * scale), tf.float32)
                score = tf.reduce_sum(y * tf.constant([1.0, 2.0, 3.0, 4.0]))
            input_gradient = inner.gradient(score, x)
            penalty = tf.reduce_sum(input_gradient ** 2)
        results.append([y, input_gradient, outer.gradient(penalty, scale)])
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # By hand: y = x * scale, scaled by 0.2 where negative; dscore/dx = c * scale * slope,
    # and the penalty's gradient 2 * (c * slope)^2 * scale (slope 1 or 0.2 by the sign).
    c = np.array([1.0, 2.0, 3.0, 4.0])
    z = x.numpy()[0] * scale.numpy()[0]
    slope = np.where(z > 0, 1.0, 0.2)
    np.testing.assert_allclose(results[1][1].numpy()[0], c * scale.numpy()[0] * slope,
                               rtol=tolerance)
    np.testing.assert_allclose(results[1][2].numpy()[0], 2 * (c * slope) ** 2 * scale.numpy()[0],
                               rtol=tolerance)


def test_a_gradient_penalty_on_the_critic_gives_keras_gradients():
    rng = np.random.default_rng(0)
    real, fake = (tf.constant(rng.uniform(-1, 1, (2, 64, 64, 3)), tf.float32) for _ in "ab")
    alpha = tf.constant(rng.uniform(0, 1, (2, 1, 1, 1)), tf.float32)
    results = []
    for cls in (keras.layers.LeakyReLU, penalty_leaky_relu.LeakyReLU):
        critic = critic_with(cls)

        @tf.function
        def gradients(critic=critic):
            with tf.GradientTape() as tape:
                loss = (tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))
                        + 10.0 * losses.gradient_penalty(critic, real, fake, alpha))
            return tape.gradient(loss, critic.trainable_weights)
        results.append(gradients())
    assert len(results[1]) == len(critic.trainable_weights) > 0
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_only_the_penalised_critic_uses_it():
    def classes(network):
        return {type(layer) for layer in network.layers
                if isinstance(layer, keras.layers.LeakyReLU)}
    assert classes(build_critic(64)) == {penalty_leaky_relu.LeakyReLU}
    assert classes(build_discriminator(64)) == {keras.layers.LeakyReLU}
    assert classes(build_sn_discriminator(64)) == {keras.layers.LeakyReLU}


def test_critic_saves_as_plain_keras_and_loads_without_anime_gan(tmp_path):
    critic = critic_with(penalty_leaky_relu.LeakyReLU)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(outputs_without_anime_gan(critic, images, tmp_path),
                               critic(images), atol=1e-6)

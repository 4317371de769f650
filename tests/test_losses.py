import math
import os
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from anime_gan import losses, networks
from conftest import run_on_one_thread


def softplus(x):
    return math.log1p(math.exp(x))


def test_bce_losses_at_zero_logits_are_log2():
    zeros = tf.zeros((4, 1))
    assert float(losses.discriminator_bce_loss(zeros, zeros)) == pytest.approx(2 * math.log(2))
    assert float(losses.generator_bce_loss(zeros)) == pytest.approx(math.log(2))


def test_bce_losses_by_hand():
    real = tf.constant([[2.0], [0.0]])
    fake = tf.constant([[-1.0], [3.0]])
    # -log sigmoid(x) = softplus(-x);  -log(1 - sigmoid(x)) = softplus(x)
    expected_d = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(3)) / 2
    expected_g = (softplus(1) + softplus(-3)) / 2
    assert float(losses.discriminator_bce_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
    assert float(losses.generator_bce_loss(fake)) == pytest.approx(expected_g, rel=1e-6)


def test_bce_is_stable_for_large_logits():
    huge = tf.constant([[1000.0], [-1000.0]])
    assert float(losses.generator_bce_loss(huge)) == pytest.approx(500.0)
    assert np.isfinite(float(losses.discriminator_bce_loss(huge, huge)))


def test_wasserstein_losses():
    real = tf.constant([[1.0], [3.0]])
    fake = tf.constant([[0.0], [2.0]])
    assert float(losses.critic_wasserstein_loss(real, fake)) == pytest.approx(1.0 - 2.0)
    assert float(losses.generator_wasserstein_loss(fake)) == pytest.approx(-1.0)


def test_interpolate_endpoints_and_midpoint():
    real = tf.fill((3, 2, 2, 3), 4.0)
    fake = tf.fill((3, 2, 2, 3), -2.0)
    alpha = tf.reshape(tf.constant([1.0, 0.0, 0.5]), (3, 1, 1, 1))
    points = losses.interpolate(real, fake, alpha).numpy()
    np.testing.assert_allclose(points[0], 4.0)
    np.testing.assert_allclose(points[1], -2.0)
    np.testing.assert_allclose(points[2], 1.0)


def test_gradient_penalty_from_gradients_by_hand():
    # Per-sample norms 5 and 0: ((5 - 1)^2 + (0 - 1)^2) / 2 = 8.5
    gradients = tf.constant([[[[3.0, 4.0]]], [[[0.0, 0.0]]]])
    assert float(losses.gradient_penalty_from_gradients(gradients)) == pytest.approx(8.5, rel=1e-5)


def test_gradient_penalty_has_finite_gradient_at_zero_gradient():
    gradients = tf.Variable(tf.zeros((2, 4, 4, 3)))
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty_from_gradients(gradients)
    grad = tape.gradient(penalty, gradients)
    assert float(penalty) == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.isfinite(grad.numpy()))


@pytest.mark.parametrize("scale", [0.25, 1.0, 3.0])
def test_gradient_penalty_of_linear_critic(scale):
    """f(x) = w.x has gradient w everywhere, so the penalty is (|w| - 1)^2."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(1, 8, 8, 3)).astype(np.float32)
    w *= scale / np.linalg.norm(w)

    def critic(x, training=False):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None]

    real = tf.constant(rng.normal(size=(5, 8, 8, 3)), tf.float32)
    fake = tf.constant(rng.normal(size=(5, 8, 8, 3)), tf.float32)
    alpha = losses.sample_interpolation_weights(5, seed=3)
    penalty = losses.gradient_penalty(critic, real, fake, alpha)
    assert float(penalty) == pytest.approx((scale - 1.0) ** 2, rel=1e-4, abs=1e-6)


def test_interpolation_weights_are_per_sample_uniform():
    alpha = losses.sample_interpolation_weights(1000, seed=0).numpy()
    assert alpha.shape == (1000, 1, 1, 1)
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert abs(alpha.mean() - 0.5) < 0.05
    assert len(np.unique(alpha)) > 900


XLA_CHECK = textwrap.dedent("""
    import keras, numpy as np, tensorflow as tf
    from anime_gan import losses, networks
    keras.utils.set_random_seed(0)
    critic = networks.build_critic(64)
    rng = np.random.default_rng(0)
    real, fake = (tf.constant(rng.uniform(-1, 1, (4, 64, 64, 3)), tf.float32) for _ in range(2))
    alpha = tf.constant(rng.uniform(0, 1, (4, 1, 1, 1)), tf.float32)

    def critic_gradients():
        with tf.GradientTape() as tape:
            loss = (losses.critic_wasserstein_loss(critic(real), critic(fake))
                    + 10.0 * losses.gradient_penalty(critic, real, fake, alpha))
        return tape.gradient(loss, critic.trainable_variables)

    plain = tf.function(critic_gradients)()
    compiled = tf.function(critic_gradients, jit_compile=True)()
    errors = [float(np.linalg.norm(b.numpy() - a.numpy()) / np.linalg.norm(a.numpy()))
              if np.all(np.isfinite(b.numpy())) else float("inf")
              for a, b in zip(plain, compiled)]
    print(max(errors))
""")


@pytest.mark.long
def test_critic_gradients_with_the_penalty_are_the_same_under_xla():
    """A seeded critic, in a process with TensorFlow's own kernels (TF_ENABLE_ONEDNN_OPTS=0)
    on one thread, so that the check is the same every run: oneDNN's threaded convolutions
    may pick other algorithms from run to run, and a critic drawn afresh each run (as this
    one was) gave differences from 1.2e-6 to 2.1e-6, and once 1.2e-3 under load: probably
    a pre-activation so near 0 that the two round-offs gave it opposite signs, a LeakyReLU
    kink apart."""
    result = run_on_one_thread(XLA_CHECK, env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0"))
    assert result.returncode == 0, result.stderr[-3000:]
    # XLA fuses and orders the float sums differently: compare each gradient as a whole.
    assert float(result.stdout.strip().splitlines()[-1]) < 1e-4  # measured: 1.6e-6


def test_hinge_losses_by_hand():
    real = np.array([[2.0], [0.5], [-1.0]], np.float32)
    fake = np.array([[-2.0], [0.0], [1.5]], np.float32)
    # relu(1 - real) = [0, 0.5, 2] -> 2.5/3; relu(1 + fake) = [0, 1, 2.5] -> 3.5/3
    assert float(losses.discriminator_hinge_loss(real, fake)) == pytest.approx(6.0 / 3)
    assert float(losses.generator_hinge_loss(fake)) == pytest.approx(0.5 / 3)  # -mean(fake)

"""GAN losses as pure functions of discriminator/critic outputs.

Everything here is written with ``keras.ops`` except ``input_gradients``, the one
TensorFlow-specific piece (it needs ``tf.GradientTape``).
"""

import keras
from keras import ops

# Added under the square root of the gradient norm so its derivative stays
# finite when a gradient is exactly zero (d/dx sqrt(x) is infinite at 0).
_NORM_EPSILON = 1e-12


# --- DCGAN: binary cross-entropy on logits ------------------------------------

def _bce_with_logits(logits, label):
    # BCE(label, sigmoid(x)) = softplus(-x) for label 1, softplus(x) for label 0.
    return ops.mean(ops.softplus(-logits if label == 1 else logits))


def discriminator_bce_loss(real_logits, fake_logits):
    """-log D(x) - log(1 - D(G(z))), averaged over each batch and summed."""
    return _bce_with_logits(real_logits, 1) + _bce_with_logits(fake_logits, 0)


def generator_bce_loss(fake_logits):
    """Non-saturating generator loss: -log D(G(z))."""
    return _bce_with_logits(fake_logits, 1)


# --- SNGAN: the hinge loss ---------------------------------------------------------

def discriminator_hinge_loss(real_scores, fake_scores):
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return ops.mean(ops.relu(1.0 - real_scores)) + ops.mean(ops.relu(1.0 + fake_scores))


def generator_hinge_loss(fake_scores):
    """-E[D(G(z))]."""
    return -ops.mean(fake_scores)


# --- WGAN and WGAN-GP -------------------------------------------------------------

def critic_wasserstein_loss(real_scores, fake_scores):
    """E[f(G(z))] - E[f(x)]: the negated Wasserstein estimate."""
    return ops.mean(fake_scores) - ops.mean(real_scores)


def generator_wasserstein_loss(fake_scores):
    return -ops.mean(fake_scores)


def interpolate(real, fake, alpha):
    """Points alpha*real + (1-alpha)*fake; alpha has shape [N, 1, 1, 1]."""
    return alpha * real + (1.0 - alpha) * fake


def gradient_penalty_from_gradients(gradients):
    """mean over samples of (||grad||_2 - 1)^2, the norm taken per sample."""
    squares = ops.square(ops.reshape(gradients, (ops.shape(gradients)[0], -1)))
    norms = ops.sqrt(ops.sum(squares, axis=1) + _NORM_EPSILON)
    return ops.mean(ops.square(norms - 1.0))


def input_gradients(critic, inputs):
    """d critic(inputs) / d inputs, per sample (TensorFlow backend)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(inputs)
        scores = critic(inputs, training=True)
    return tape.gradient(scores, inputs)


def gradient_penalty(critic, real, fake, alpha):
    """The WGAN-GP penalty (without its weight lambda) on interpolates of real and fake.

    Taken in float32 whatever precision the images come in (augmented images come in
    the critic's): the norm sums 12k squared gradients per sample."""
    points = interpolate(ops.cast(real, "float32"), ops.cast(fake, "float32"), alpha)
    return gradient_penalty_from_gradients(input_gradients(critic, points))


def sample_interpolation_weights(batch_size, seed):
    """Per-sample alpha ~ U[0, 1], shaped to broadcast over images."""
    return keras.random.uniform((batch_size, 1, 1, 1), seed=seed)

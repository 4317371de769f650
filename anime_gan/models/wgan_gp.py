"""WGAN-GP (Gulrajani et al., 2017): a Wasserstein critic with a gradient penalty."""

import tensorflow as tf
from keras import ops

from anime_gan import devices, losses
from anime_gan.models.base import GAN


class WGANGP(GAN):
    """Algorithm 1 of the paper: ``n_critic`` critic updates, then one generator update.

    Each step takes ``n_critic`` batches of N real images, shaped
    [N, n_critic, H, W, 3] (example-major, so that a distribution strategy can
    split the batch between replicas; [N, H, W, 3] when n_critic is 1).
    ``wasserstein`` is the critic's estimate E[f(x)] - E[f(G(z))] of the
    Wasserstein distance, the negated critic loss without its penalty.
    """

    metric_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")

    def __init__(self, generator, critic, n_critic=5, gp_weight=10.0, **kwargs):
        super().__init__(generator, critic, **kwargs)
        self.n_critic = n_critic
        self.gp_weight = gp_weight

    @property
    def real_batches_per_step(self):
        return self.n_critic

    def train_step(self, real_images):
        if len(real_images.shape) == 4:
            real_images = real_images[:, None]
        batch_size = ops.shape(real_images)[0]

        # Lines 2-10: n_critic critic updates, each on a fresh real batch.
        for i in range(self.n_critic):
            d_loss, critic_loss, penalty = self.update_critic(real_images[:, i])

        # Lines 11-12: one generator update, minimising -E[f(G(z))].
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.sample_latents(batch_size), training=True)
            g_loss = losses.generator_wasserstein_loss(self.discriminate(fake_images))
        self.update_generator(tape, g_loss)

        # Metrics describe the last critic update of the step.
        return self.report(d_loss=d_loss, g_loss=g_loss, wasserstein=-critic_loss,
                           gradient_penalty=penalty)

    def update_critic(self, real_images):
        """One critic update on E[f(G(z))] - E[f(x)] + lambda * penalty.

        Returns the total loss, the critic loss without the penalty, and the penalty.
        """
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self.sample_latents(batch_size), training=True)
        # The penalty is taken between the images the critic actually sees.
        real_images, fake_images = self.augment(real_images), self.augment(fake_images)
        alpha = devices.replica_share(
            lambda n: losses.sample_interpolation_weights(n, self.seed_generator), batch_size)
        with tf.GradientTape() as tape:
            real_scores = self.discriminator(real_images, training=True)
            fake_scores = self.discriminator(fake_images, training=True)
            critic_loss = losses.critic_wasserstein_loss(real_scores, fake_scores)
            penalty = losses.gradient_penalty(self.discriminator, real_images, fake_images,
                                              alpha)
            d_loss = critic_loss + self.gp_weight * penalty
        self.update_discriminator(tape, d_loss)
        return d_loss, critic_loss, penalty

"""WGAN-GP (Gulrajani et al., 2017): a Wasserstein critic with a gradient penalty."""

import logging

import keras
from keras import ops

from anime_gan import devices, losses
from anime_gan.errors import check_real_number
from anime_gan.models.base import layers_within
from anime_gan.models.critic_loop import CriticLoopGAN

logger = logging.getLogger(__name__)


class WGANGP(CriticLoopGAN):
    """Algorithm 1 of the paper: ``n_critic`` critic updates on
    E[f(G(z))] - E[f(x)] + lambda * E[(||grad f(x_hat)||_2 - 1)^2], then one generator
    update on -E[f(G(z))] (the loop is ``CriticLoopGAN``'s).

    ``wasserstein`` is the critic's estimate E[f(x)] - E[f(G(z))] of the Wasserstein
    distance: the negated critic loss, without the penalty.
    """

    metric_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")
    penalty_passes = 1  # the penalty runs the critic and its input gradient once more

    def __init__(self, generator, critic, n_critic=5, gp_weight=10.0, **kwargs):
        check_real_number("WGANGP", "gp_weight", gp_weight, 0)
        super().__init__(generator, critic, n_critic=n_critic, **kwargs)
        self.gp_weight = gp_weight
        if normalized := [layer.name for layer in layers_within(critic)
                          if isinstance(layer, keras.layers.BatchNormalization)]:
            logger.warning("WGANGP: the critic has batch normalization (%s), which makes each "
                           "image's score depend on the batch, against the gradient penalty "
                           "taken per image; anime_gan.build_critic() has none",
                           ", ".join(normalized))

    def critic_loss(self, real_scores, fake_scores, real_images, fake_images):
        critic_loss = losses.critic_wasserstein_loss(real_scores, fake_scores)
        alpha = devices.replica_share(
            lambda n: losses.sample_interpolation_weights(n, self.seed_generator),
            ops.shape(real_images)[0])
        penalty = losses.gradient_penalty(self.discriminator, real_images, fake_images, alpha)
        return (critic_loss + self.gp_weight * penalty,
                {"wasserstein": -critic_loss, "gradient_penalty": penalty})

    def generator_loss(self, fake_scores):
        return losses.generator_wasserstein_loss(fake_scores)

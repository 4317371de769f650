"""SNGAN (Miyato et al., 2018): a spectrally normalised discriminator, trained with the
hinge loss."""

import logging

import keras
from keras import ops

from anime_gan import losses
from anime_gan.models.base import layers_within
from anime_gan.models.critic_loop import CriticLoopGAN

logger = logging.getLogger(__name__)


class SNGAN(CriticLoopGAN):
    """``n_critic`` (the paper's n_dis) discriminator updates on
    E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], then one generator update on
    -E[D(G(z))].  Spectral normalisation lives in the discriminator's layers
    (``networks.build_sn_discriminator``).

    ``real_score`` and ``fake_score`` are the mean outputs D(x) and D(G(z)).
    """

    metric_names = ("d_loss", "g_loss", "real_score", "fake_score")

    def __init__(self, generator, discriminator, n_critic=1, **kwargs):
        super().__init__(generator, discriminator, n_critic=n_critic, **kwargs)
        if not any(isinstance(layer, keras.layers.SpectralNormalization)
                   for layer in layers_within(discriminator)):
            logger.warning("SNGAN: the discriminator has no spectral normalization, which the "
                           "hinge loss relies on to bound it; "
                           "anime_gan.build_sn_discriminator() has it")

    def critic_loss(self, real_scores, fake_scores, real_images, fake_images):
        return (losses.discriminator_hinge_loss(real_scores, fake_scores),
                {"real_score": ops.mean(real_scores), "fake_score": ops.mean(fake_scores)})

    def generator_loss(self, fake_scores):
        return losses.generator_hinge_loss(fake_scores)

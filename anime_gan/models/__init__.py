"""The GAN models, by the name ``--model`` gives them."""

from anime_gan.models.base import GAN
from anime_gan.models.dcgan import DCGAN
from anime_gan.models.wgan_gp import WGANGP

__all__ = ["GAN", "DCGAN", "WGANGP"]

"""The GAN models, by the name ``--model`` gives them.

- ``dcgan``: ``DCGAN``, binary cross-entropy (Radford et al., 2016);
- ``wgan``: ``WGANGP``, Wasserstein critic with a gradient penalty (Gulrajani et al., 2017);
- ``wgan_clip``: ``WGANClip``, the original WGAN with weight clipping (Arjovsky et al., 2017);
- ``sngan``: ``SNGAN``, hinge loss and a spectrally normalised discriminator (Miyato et al., 2018).
"""

from anime_gan.models.base import GAN
from anime_gan.models.critic_loop import CriticLoopGAN
from anime_gan.models.dcgan import DCGAN
from anime_gan.models.sngan import SNGAN
from anime_gan.models.wgan_clip import WGANClip
from anime_gan.models.wgan_gp import WGANGP

MODELS = {"dcgan": DCGAN, "wgan": WGANGP, "wgan_clip": WGANClip, "sngan": SNGAN}

__all__ = ["GAN", "CriticLoopGAN", "DCGAN", "WGANGP", "WGANClip", "SNGAN", "MODELS"]

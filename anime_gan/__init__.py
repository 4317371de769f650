"""anime-gan: DCGAN and WGAN-GP for anime faces in Keras 3 / TensorFlow."""

from anime_gan.config import ConfigError, TrainConfig
from anime_gan.data import make_dataset
from anime_gan.gan import DCGAN, GAN, WGANGP
from anime_gan.networks import build_critic, build_discriminator, build_generator
from anime_gan.train import build_gan, train

__all__ = [
    "ConfigError", "TrainConfig", "make_dataset", "DCGAN", "GAN", "WGANGP",
    "build_critic", "build_discriminator", "build_generator", "build_gan", "train",
]

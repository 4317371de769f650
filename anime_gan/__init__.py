"""anime-gan: DCGAN and WGAN-GP for anime faces in Keras 3 / TensorFlow."""

from anime_gan.config import ConfigError, TrainConfig
from anime_gan.data import make_dataset
from anime_gan.gan import DCGAN, GAN, WGANGP
from anime_gan.networks import build_critic, build_discriminator, build_generator
from anime_gan.train import build_gan, train
from anime_gan.generate import (export_run, generate_run, interpolation_grid, load_generator,
                                sample, show_grid, slerp)
from anime_gan.export import export_generator

__all__ = [
    "ConfigError", "TrainConfig", "make_dataset", "DCGAN", "GAN", "WGANGP",
    "build_critic", "build_discriminator", "build_generator", "build_gan", "train",
    "export_generator", "export_run", "generate_run", "interpolation_grid", "load_generator",
    "sample", "show_grid", "slerp",
]

"""``train(config)``: build the networks, the data and the GAN, and fit it."""

import dataclasses
import json
import logging
import os

import keras

from anime_gan import callbacks, data, networks
from anime_gan.config import TrainConfig
from anime_gan.gan import DCGAN, WGANGP

logger = logging.getLogger(__name__)


def build_gan(config):
    """The compiled, untrained GAN that ``config`` describes."""
    generator = networks.build_generator(config.latent_dim, config.image_size)
    if config.model == "dcgan":
        gan = DCGAN(generator, networks.build_discriminator(config.image_size),
                    seed=config.seed)
    else:
        gan = WGANGP(generator, networks.build_critic(config.image_size),
                     n_critic=config.n_critic, gp_weight=config.gp_weight,
                     seed=config.seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_lr, config.d_beta1, config.d_beta2),
        g_optimizer=keras.optimizers.Adam(config.g_lr, config.g_beta1, config.g_beta2),
        jit_compile=config.jit_compile,
    )
    return gan


def run_callbacks(config):
    """Callbacks that write the run's artifacts into ``config.output_dir``."""
    history_csv = os.path.join(config.output_dir, "history.csv")
    return [
        callbacks.HistoryCSV(history_csv),
        callbacks.HistoryPlots(history_csv, config.output_dir),
        callbacks.SampleGrid(config.output_dir,
                             callbacks.fixed_latents(config.latent_dim, config.seed)),
        callbacks.SaveNetworks(config.output_dir),
    ]


def train(config=None, **overrides):
    """Train the GAN that ``config`` (or keyword settings) describes; returns the fitted GAN.

    >>> gan = train(model="dcgan", epochs=1, steps_per_epoch=10)
    """
    if config is None:
        config = TrainConfig(**overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    keras.utils.set_random_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)
    with open(os.path.join(config.output_dir, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(config), f, indent=2)

    gan = build_gan(config)
    dataset, _ = data.make_dataset(
        config.image_size, config.batch_size, config.data_dir, config.dataset,
        seed=config.seed, batches_per_step=gan.real_batches_per_step,
        repeat=config.steps_per_epoch is not None,
    )
    logger.info("Training %s; writing the run to %s", config.model, config.output_dir)
    gan.fit(dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
            callbacks=run_callbacks(config), shuffle=False)
    return gan

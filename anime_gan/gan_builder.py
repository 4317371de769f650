"""``build_gan(config)``: the compiled, untrained GAN that a ``TrainConfig`` (or settings by
name) describes."""

import keras

from anime_gan import augment, devices, fused_adam, networks
from anime_gan.config import TrainConfig
from anime_gan.errors import ArgumentTypeError, ConfigError
from anime_gan.models import MODELS


def build_gan(config=None, strategy=None, **settings):
    """The compiled, untrained GAN that ``config`` describes, its variables placed by
    ``strategy`` (a ``tf.distribute.Strategy``; default: the current one).

    ``config``: a ``TrainConfig``; ``settings``, by the flags' names, start from it or
    from the defaults: ``build_gan(model="wgan", image_size=128)``.  A ``strategy`` given
    by its flag's name (``strategy="mirrored"``) is that setting, and makes the strategy."""
    if isinstance(strategy, str):
        settings["strategy"], strategy = strategy, None
    if config is None:
        config = TrainConfig.from_settings(**settings)
    elif not isinstance(config, TrainConfig):
        raise ArgumentTypeError(f"build_gan takes a TrainConfig or settings by name, not "
                                f"{type(config).__name__}: build_gan(model=..., image_size=...)")
    elif settings:
        config = config.replace(**settings)
    strategy = strategy or devices.make_strategy(settings.get("strategy", "default"))
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(
            f"--batch_size={config.batch_size}: must divide evenly between the "
            f"{strategy.num_replicas_in_sync} replicas of --strategy={config.strategy}")
    # With several replicas, batch norm takes its statistics over the global batch, so
    # a step does not depend on the number of replicas.
    sync_batch_norm = strategy.num_replicas_in_sync > 1
    with strategy.scope(), devices.precision(config.mixed_precision):
        generator = networks.build_generator(config.latent_dim, config.image_size,
                                             upsampling=config.upsampling,
                                             sync_batch_norm=sync_batch_norm)
        gan = MODELS[config.model](
            generator, _discriminator(config, sync_batch_norm), seed=config.seed,
            ema_decay=config.ema_decay, diffaugment=augment.parse_policy(config.diffaugment),
            **_model_settings(config))
        gan.compile(
            d_optimizer=_optimizer(config, config.d_lr, config.d_beta1, config.d_beta2),
            g_optimizer=_optimizer(config, config.g_lr, config.g_beta1, config.g_beta2),
            jit_compile=config.jit_compile,
        )
    return gan


def _discriminator(config, sync_batch_norm):
    if config.model == "wgan":
        return networks.build_critic(config.image_size)
    if config.model == "sngan":
        return networks.build_sn_discriminator(config.image_size)
    # The DCGAN's; the original WGAN's critic is the same network.
    return networks.build_discriminator(config.image_size, sync_batch_norm=sync_batch_norm)


def _model_settings(config):
    """The keyword arguments of ``config.model``'s class beyond the shared ones."""
    return {"dcgan": {},
            "wgan": {"n_critic": config.n_critic, "gp_weight": config.gp_weight},
            "wgan_clip": {"n_critic": config.n_critic, "clip_value": config.clip_value},
            "sngan": {"n_critic": config.n_critic}}[config.model]


def _optimizer(config, learning_rate, beta1, beta2):
    if config.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate)
    else:
        optimizer = fused_adam.Adam(learning_rate, beta1, beta2)
    return devices.optimizer_for(config.mixed_precision, optimizer)

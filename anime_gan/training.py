"""``train(config)``: build the GAN and its data, then fit it into a run folder.

A run folder holds everything needed to continue: running ``train`` again
with the same ``output_dir`` resumes from the newest checkpoint.
"""

import dataclasses
import logging

import keras

from anime_gan import augment, callbacks, devices, export, history, networks, progress
from anime_gan.config import TrainConfig
from anime_gan.data import make_stream
from anime_gan.errors import ConfigError
from anime_gan.evaluation.backbones import load_backbone
from anime_gan.evaluation.features import real_features
from anime_gan.models import DCGAN, WGANGP
from anime_gan.run_folder import RunFolder, check_resumable
from anime_gan.run_folder.checkpoints import TrainingState
from anime_gan.sampling import fixed_latents

logger = logging.getLogger(__name__)


def build_gan(config, strategy=None):
    """The compiled, untrained GAN that ``config`` describes, its variables placed by
    ``strategy`` (a ``tf.distribute.Strategy``; default: the current one)."""
    strategy = strategy or devices.make_strategy("default")
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
        shared = dict(seed=config.seed, ema_decay=config.ema_decay,
                      diffaugment=augment.parse_policy(config.diffaugment))
        if config.model == "dcgan":
            discriminator = networks.build_discriminator(config.image_size,
                                                         sync_batch_norm=sync_batch_norm)
            gan = DCGAN(generator, discriminator, **shared)
        else:
            gan = WGANGP(generator, networks.build_critic(config.image_size),
                         n_critic=config.n_critic, gp_weight=config.gp_weight, **shared)
        gan.compile(
            d_optimizer=_adam(config.d_lr, config.d_beta1, config.d_beta2, config),
            g_optimizer=_adam(config.g_lr, config.g_beta1, config.g_beta2, config),
            jit_compile=config.jit_compile,
        )
    return gan


def _adam(learning_rate, beta1, beta2, config):
    return devices.optimizer_for(config.mixed_precision,
                                 keras.optimizers.Adam(learning_rate, beta1, beta2))


def _kid_monitor(config):
    """The --eval_every KID callback, or nothing."""
    if not config.eval_every:
        return []
    backbone = load_backbone(config.backbone, config.backbone_weights)
    real = real_features(backbone, config.image_size, config.eval_samples,
                         config.data_dir, config.dataset, config.seed)
    return [callbacks.KIDMonitor(backbone, real, config.eval_every, config.eval_samples,
                                 config.seed)]


def run_callbacks(config, state, extra=()):
    """The callbacks that write the run's files, in the order ``anime_gan.callbacks`` gives."""
    folder = RunFolder(config.output_dir)
    return [
        progress.ProgressBar(),  # first: an epoch's bar ends before the others log
        callbacks.StopOnNonFiniteLoss(),
        *_kid_monitor(config),
        callbacks.HistoryCSV(folder.history),
        callbacks.HistoryPlots(folder.history, folder.path),
        callbacks.StepTensorBoard(folder.logs, update_freq=1),
        callbacks.SampleGrid(folder.samples, state.fixed_latents, folder.logs),
        callbacks.SaveNetworks(folder.path),
        *extra,
        callbacks.Checkpointer(state, config.checkpoint_every),
    ]


def _fit_remaining_epochs(gan, stream, state, steps_per_epoch, epochs, fit_callbacks):
    """Fits from the state's epoch and step to the end of ``epochs``.

    A run stopped mid-epoch first finishes that epoch's remaining steps in a
    fit of its own, then the whole epochs follow in one fit.
    """
    while int(state.epoch) < epochs:
        epoch = int(state.epoch)
        remaining = steps_per_epoch - state.steps_into_epoch
        if remaining <= 0:
            # Stopped after an epoch's last step but before its end-of-epoch
            # callbacks: its steps are done, its history row and grid are lost.
            logger.warning("Epoch %d finished before the stop; no history row for it", epoch + 1)
            state.end_epoch()
            continue
        partial = remaining < steps_per_epoch
        gan.fit(stream.batches(start_step=state.step), initial_epoch=epoch,
                epochs=epoch + 1 if partial else epochs, steps_per_epoch=remaining,
                callbacks=fit_callbacks, shuffle=False)
        if gan.stop_training:
            break


def train(config=None, callbacks=(), **overrides):
    """Train (or continue training) the GAN that ``config`` or keyword settings describe.

    Returns the fitted GAN.  ``callbacks`` are extra Keras callbacks.

    >>> gan = train(model="dcgan", epochs=1, steps_per_epoch=10, output_dir="runs/try")
    """
    if config is None:
        config = TrainConfig(**overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    strategy = devices.make_strategy(config.strategy)
    # Non-chief workers of a multi-worker run write (and resume from) a scratch folder.
    config = dataclasses.replace(
        config, output_dir=devices.worker_output_dir(config.output_dir, strategy))
    resuming = check_resumable(config)
    keras.utils.set_random_seed(config.seed)
    folder = RunFolder(config.output_dir)

    gan = build_gan(config, strategy)
    stream = make_stream(config.image_size, config.batch_size, config.data_dir,
                         config.dataset, seed=config.seed,
                         batches_per_step=gan.real_batches_per_step,
                         cache_dir=config.cache_dir)
    steps_per_epoch = config.steps_per_epoch or stream.steps_per_pass
    state = TrainingState(gan, fixed_latents(config.latent_dim, config.seed), folder.checkpoints)
    if resuming and state.restore_latest():
        logger.info("Resuming %s at epoch %d, step %d", config.output_dir,
                    int(state.epoch) + 1, state.step)
    folder.write_config(config)
    history.truncate(folder.history, int(state.epoch))

    logger.info("Training %s; writing the run to %s", config.model, config.output_dir)
    try:
        _fit_remaining_epochs(gan, stream, state, steps_per_epoch, config.epochs,
                              run_callbacks(config, state, callbacks))
    except KeyboardInterrupt:
        path = state.save()  # refuses non-finite weights
        logger.warning("Interrupted: saved %s. Run the same command again to resume.", path)
        raise
    export.export_generator(gan.sampling_generator, folder.export)
    return gan

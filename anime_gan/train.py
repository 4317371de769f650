"""``train(config)``: build the networks, the data and the GAN, and fit it.

A run folder holds everything needed to continue: running ``train`` again
with the same ``output_dir`` resumes from the newest checkpoint.
"""

import dataclasses
import json
import logging
import os

import keras

from anime_gan import (artifacts, augment, checkpoints, data, distribute, export, faults,
                       networks)
from anime_gan.config import ConfigError, TrainConfig
from anime_gan.gan import DCGAN, WGANGP

logger = logging.getLogger(__name__)

# Settings a resumed run must share with the run it continues.
_ARCHITECTURE_SETTINGS = ("model", "image_size", "latent_dim", "upsampling", "mixed_precision")


def build_gan(config, strategy=None):
    """The compiled, untrained GAN that ``config`` describes, its variables placed by
    ``strategy`` (a ``tf.distribute.Strategy``; default: the current one)."""
    strategy = strategy or distribute.make_strategy("default")
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(
            f"--batch_size={config.batch_size}: must divide evenly between the "
            f"{strategy.num_replicas_in_sync} replicas of --strategy={config.strategy}")
    # With several replicas, batch norm takes its statistics over the global batch, so
    # a step does not depend on the number of replicas.
    sync_batch_norm = strategy.num_replicas_in_sync > 1
    with strategy.scope(), networks.precision(config.mixed_precision):
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
            d_optimizer=_optimizer(config.d_lr, config.d_beta1, config.d_beta2, config),
            g_optimizer=_optimizer(config.g_lr, config.g_beta1, config.g_beta2, config),
            jit_compile=config.jit_compile,
        )
    return gan


def _optimizer(learning_rate, beta1, beta2, config):
    adam = keras.optimizers.Adam(learning_rate, beta1, beta2)
    # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
    if config.mixed_precision == "float16":
        return keras.optimizers.LossScaleOptimizer(adam)
    return adam


def run_paths(output_dir):
    join = lambda *parts: os.path.join(output_dir, *parts)  # noqa: E731
    return {"config": join("config.json"), "history": join("history.csv"),
            "checkpoints": join("checkpoints"), "logs": join("logs"),
            "export": join("export"), "generator": join("generator.keras"),
            "ema_generator": join("generator_ema.keras")}


def read_run_config(output_dir):
    """The ``TrainConfig`` saved in a run folder."""
    path = run_paths(output_dir)["config"]
    if not os.path.isfile(path):
        raise ConfigError(f"--output_dir={output_dir}: no run here (no config.json)")
    with open(path) as f:
        saved = json.load(f)
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    # Runs from before --ema_decay existed, when there was no average, have no such key.
    saved.setdefault("ema_decay", 0.0)
    return TrainConfig(**{k: v for k, v in saved.items() if k in known})


def _check_resumable(config):
    """Refuses to mix two different runs in one folder."""
    if not os.path.exists(run_paths(config.output_dir)["config"]):
        return False
    if not config.resume:
        raise ConfigError(
            f"--output_dir={config.output_dir}: a run already exists here and --noresume "
            "was given; choose a new --output_dir or drop --noresume to continue it")
    saved = read_run_config(config.output_dir)
    for name in _ARCHITECTURE_SETTINGS:
        if getattr(saved, name) != getattr(config, name):
            raise ConfigError(
                f"--{name}={getattr(config, name)}: the run in {config.output_dir} was "
                f"trained with --{name}={getattr(saved, name)}; use a new --output_dir")
    return True


def _kid_monitor(config):
    """The --eval_every KID callback, or nothing."""
    if not config.eval_every:
        return []
    from anime_gan import evaluation

    backbone = evaluation.load_backbone(config.backbone, config.backbone_weights)
    real = evaluation.real_features(backbone, config.image_size, config.eval_samples,
                                    config.data_dir, config.dataset, config.seed)
    return [evaluation.KIDMonitor(backbone, real, config.eval_every, config.eval_samples,
                                  config.seed)]


def run_callbacks(config, state, extra=()):
    """Callbacks that write the run's artifacts; the checkpoint comes last."""
    paths = run_paths(config.output_dir)
    return [
        faults.StopOnNonFiniteLoss(),
        *_kid_monitor(config),
        artifacts.HistoryCSV(paths["history"]),
        artifacts.HistoryPlots(paths["history"], config.output_dir),
        artifacts.StepTensorBoard(paths["logs"], update_freq=1),
        artifacts.SampleGrid(config.output_dir, state.fixed_latents, paths["logs"]),
        artifacts.SaveNetworks(config.output_dir),
        *extra,
        checkpoints.Checkpointer(state, config.checkpoint_every),
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
    strategy = distribute.make_strategy(config.strategy)
    # Non-chief workers of a multi-worker run write (and resume from) a scratch folder.
    config = dataclasses.replace(
        config, output_dir=distribute.worker_output_dir(config.output_dir, strategy))
    resuming = _check_resumable(config)
    keras.utils.set_random_seed(config.seed)
    paths = run_paths(config.output_dir)

    gan = build_gan(config, strategy)
    stream = data.make_stream(config.image_size, config.batch_size, config.data_dir,
                              config.dataset, seed=config.seed,
                              batches_per_step=gan.real_batches_per_step,
                              cache_dir=config.cache_dir)
    steps_per_epoch = config.steps_per_epoch or stream.steps_per_pass
    state = checkpoints.TrainingState(
        gan, artifacts.fixed_latents(config.latent_dim, config.seed), paths["checkpoints"])
    if resuming and state.restore_latest():
        logger.info("Resuming %s at epoch %d, step %d", config.output_dir,
                    int(state.epoch) + 1, state.step)
    os.makedirs(config.output_dir, exist_ok=True)
    with artifacts.atomic_path(paths["config"]) as tmp, open(tmp, "w") as f:
        json.dump(dataclasses.asdict(config), f, indent=2)
    artifacts.truncate_history(paths["history"], int(state.epoch))

    logger.info("Training %s; writing the run to %s", config.model, config.output_dir)
    try:
        _fit_remaining_epochs(gan, stream, state, steps_per_epoch, config.epochs,
                              run_callbacks(config, state, callbacks))
    except KeyboardInterrupt:
        path = state.save()  # refuses non-finite weights
        logger.warning("Interrupted: saved %s. Run the same command again to resume.", path)
        raise
    export.export_generator(gan.sampling_generator, paths["export"])
    return gan

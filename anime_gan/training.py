"""``train(config)``: build the GAN and its data, then fit it into a run folder.

A run folder holds everything needed to continue: running ``train`` again
with the same ``output_dir`` resumes from the newest checkpoint.
"""

import logging
import os

import keras

from anime_gan import (callbacks, devices, event_files, export, files, flag_files, history,
                       logs, notebook, progress, sampling, stop_signals)
from anime_gan.callbacks import close_event_files, end_epoch_without_metrics
from anime_gan.config import TrainConfig
from anime_gan.data import make_stream
from anime_gan.errors import ConfigError, TrainingFault
from anime_gan.gan_builder import build_gan
from anime_gan.evaluation.backbones import load_backbone
from anime_gan.evaluation.features import real_features, warn_of_fewer_real_images
from anime_gan.run_folder import RunFolder, check_resumable, with_the_runs_settings
from anime_gan.run_folder.checkpoints import TrainingState
from anime_gan.run_folder.lock import run_lock
from anime_gan.sampling import fixed_latents
from anime_gan.train_arguments import (check_run_folder_apart, check_train_mode,
                                       checked_arguments, with_the_runs_data,
                                       without_unused_data_settings)

logger = logging.getLogger(__name__)


def _kid_backbone(config):
    """The --eval_every feature network, or None."""
    return load_backbone(config.backbone, config.backbone_weights) if config.eval_every else None


def _kid_monitor(config, backbone):
    """The --eval_every KID callback, or nothing."""
    if backbone is None:
        return []
    real = real_features(backbone, config.image_size, config.eval_samples, config.data_dir,
                         config.dataset, config.seed, config.tfds_data_dir,
                         config.max_image_pixels, say_skipped=False,  # training said them
                         cache_dir=config.cache_dir)
    warn_of_fewer_real_images(len(real), config.eval_samples, "--eval_samples",
                              config.data_dir, config.dataset)
    return [callbacks.KIDMonitor(backbone, real, config.eval_every, config.eval_samples,
                                 config.seed)]


def run_callbacks(config, state, kid_backbone=None, extra=()):
    """The callbacks that write the run's files, in the order ``anime_gan.callbacks`` gives."""
    folder = RunFolder(config.output_dir)
    return [
        progress.ProgressBar(config.epochs, state),  # first: its bar ends before others log
        callbacks.StopOnNonFiniteLoss(folder.path),
        *_kid_monitor(config, kid_backbone),
        callbacks.HistoryCSV(folder.history),
        callbacks.HistoryPlots(folder.history, folder.path),
        callbacks.StepTensorBoard(folder.logs, update_freq=1),
        callbacks.SampleGrid(folder.samples, state.fixed_latents, folder.logs),
        callbacks.SaveNetworks(folder.path),
        *extra,
        callbacks.Checkpointer(state, config.checkpoint_every),
    ]


def _fit_remaining_epochs(gan, stream, state, steps_per_epoch, epochs, fit_callbacks,
                          metrics_epoch=0):
    """Fits from the state's epoch and step to the end of ``epochs``.

    A run stopped mid-epoch first finishes that epoch's remaining steps in a
    fit of its own, then the whole epochs follow in one fit.
    """
    while int(state.epoch) < epochs:
        epoch = int(state.epoch)
        remaining = steps_per_epoch - state.steps_into_epoch
        if remaining <= 0:
            # Stopped after an epoch's last step but before its end-of-epoch callbacks, or
            # resumed with a lower --steps_per_epoch than the epoch has taken already.
            logger.warning("Epoch %d took %d step(s) before the stop, and an epoch is now %d "
                           "step(s); it ends now, %s", epoch + 1, state.steps_into_epoch,
                           steps_per_epoch, "with the history row written before the stop"
                           if metrics_epoch > epoch else "with no history row")
            end_epoch_without_metrics(gan, epoch, fit_callbacks)
            continue
        partial = remaining < steps_per_epoch
        gan.fit(stream.batches(start_step=state.step), initial_epoch=epoch,
                epochs=epoch + 1 if partial else epochs, steps_per_epoch=remaining,
                callbacks=fit_callbacks, shuffle=False)
        if gan.stop_training:
            break


def train(config=None, callbacks=(), live=None, experiment=None, **overrides):
    """Train (or continue training) the GAN that ``config`` or keyword settings describe.

    The keywords are the command line's flag names; ``experiment`` names a documented
    experiment (``--experiment``), whose settings the other keywords override; continuing
    a run (``output_dir`` holds one), those not given are the run's own.  Returns
    the fitted GAN.  ``callbacks``: extra Keras callbacks (one, or a list).  ``live`` adds a
    ``notebook.LiveView`` of samples and losses; None: only in a notebook (never on the
    command line), and not when ``callbacks`` hold one.  The run folder is locked while
    training: a second process that would train into it is refused.  As
    ``keras.utils.set_random_seed`` does, training seeds Python's, NumPy's and
    TensorFlow's global random generators with ``seed``.

    >>> gan = train(model="dcgan", epochs=1, steps_per_epoch=10, output_dir="runs/try")
    >>> gan = train(experiment="wgan_gp_64", data_dir="~/data/anime-faces", epochs=5)
    """
    logs.setup_for_a_script()
    config, callbacks = checked_arguments(config, callbacks, live)
    check_train_mode(config, overrides)
    if experiment is not None:
        if config is not None:
            raise ConfigError("give either a config or an experiment, not both")
        overrides = {**flag_files.experiment_settings(experiment), **overrides}
    if config is None:
        config = TrainConfig.from_settings(**with_the_runs_settings(overrides))
    elif overrides:
        config = config.replace(**overrides)
    config, data_notes = with_the_runs_data(config)
    config = without_unused_data_settings(config)
    config.check_paths()
    check_run_folder_apart(config)
    strategy = devices.make_strategy(config.strategy)
    # Non-chief workers of a multi-worker run write (and resume from) a scratch folder.
    config = config.replace(output_dir=devices.worker_output_dir(config.output_dir, strategy))
    try:
        with run_lock(config.output_dir), stop_signals.sigterm_interrupts():
            return _train(config, strategy, callbacks, live, data_notes)
    except KeyboardInterrupt as stop:
        if not notebook.in_notebook():
            raise
        # Saved, and said so: the cell shows no traceback through Keras's fit loop.
        raise stop.with_traceback(None) from None


def _train(config, strategy, extra_callbacks, live, data_notes=()):
    resuming = check_resumable(config)
    for note in data_notes if resuming else ():
        logger.info(note)
    kid_backbone = _kid_backbone(config)  # a bad one stops before any work
    keras.utils.set_random_seed(config.seed)
    folder = RunFolder(config.output_dir)
    export.check_run_target(folder)
    files.remove_leftovers(folder.path)
    files.recover_directory(folder.export)

    again = notebook.the_same_call("train", config.output_dir)
    with stop_signals.said_before_training(
            f"{config.output_dir} keeps its last checkpoint; run the same {again} again to "
            "resume" if resuming else f"nothing was trained; run the same {again} again"):
        gan = build_gan(config, strategy)
        state = TrainingState(gan, fixed_latents(config.latent_dim, config.seed),
                              folder.checkpoints)
        if resuming:
            _resume(config, gan, state, folder)
        finished = int(state.epoch) >= config.epochs
        stream = None if finished else make_stream(  # a finished run decodes no data
            config.image_size, config.batch_size, config.data_dir, config.dataset,
            seed=config.seed, batches_per_step=gan.real_batches_per_step,
            cache_dir=config.cache_dir, tfds_data_dir=config.tfds_data_dir,
            max_image_pixels=config.max_image_pixels)
        steps_per_epoch = config.steps_per_epoch or (stream.steps_per_pass if stream else 1)
        kept_row = _row_of_the_unended_epoch(folder, state, steps_per_epoch)
        metrics_epoch = int(state.epoch) + (kept_row is not None)
        history.truncate(folder.history, metrics_epoch)
        event_files.truncate_event_files(folder.logs, state.step, int(state.epoch), metrics_epoch)
        if kept_row is not None:
            event_files.log_missing_epoch_metrics(folder.logs, metrics_epoch, kept_row)
        extra = list(extra_callbacks)
        if (notebook.in_notebook() if live is None else live) and not any(
                isinstance(c, notebook.LiveView) for c in extra):
            extra.append(notebook.LiveView(latents=state.fixed_latents.numpy()[:16]))
        stopper, callers = stop_signals.StopAtStepEnd(), callbacks.CallersCallbacks()
        fit_callbacks = [*run_callbacks(config, state, None if finished else kid_backbone,
                                        callers.around(extra)), stopper]  # no data read
        undo_the_settings = folder.undo_of_a_config_change()
        if finished:
            # Its config.json stays as it was: nothing is trained with these settings.
            logger.info("%s has finished its %d epoch(s): nothing to train (a higher %s "
                        "trains it further)", config.output_dir, int(state.epoch),
                        "epochs=" if notebook.in_notebook() else "--epochs")
        else:  # last before fit: a stop while the run is prepared records no settings
            folder.write_config(config, state.step, int(state.epoch))
            logger.info("Training %s; writing the run to %s", config.model, config.output_dir)
    try:
        with stopper.deferring():
            _fit_remaining_epochs(gan, stream, state, steps_per_epoch, config.epochs,
                                  fit_callbacks, metrics_epoch)
    except KeyboardInterrupt as interrupt:
        path = _save_the_steps_taken(state, gan, folder)
        _redraw_live_views(fit_callbacks)
        logger.warning("%s: saved %s. Run the same %s again to resume.",
                       stop_signals.stop_name(interrupt), path, again)
        raise
    except Exception as error:
        if callers.inside:  # between two steps: they are saved, as on a stop
            progress.end_line()
            try:  # a new run's step 0 is no training: its folder keeps nothing, as a kill's
                path = _save_the_steps_taken(state, gan, folder) if state.step else None
                saved = f"saved {path}" if path else "nothing to save (no step taken)"
            except TrainingFault as fault:  # NaN weights, a full disk: the error stays theirs
                path, saved = None, f"not saved ({fault})"
            if path and state.steps_into_epoch >= steps_per_epoch:  # the row goes with it
                _keep_the_row_of_the_ended_epoch(gan, state, fit_callbacks)
            _redraw_live_views(fit_callbacks)
            logger.warning("A callback raised %s at step %d: %s. Run the same %s again to "
                           "resume.", type(error).__name__, state.step, saved, again)
        undo_the_settings()  # unless a checkpoint kept steps trained with them
        raise
    finally:
        close_event_files(fit_callbacks)
    # A finished run keeps its recorded settings: its export is the generator they sample.
    index = os.path.join(folder.checkpoints, "checkpoint")  # rewritten at every save
    if finished and export.written_after(folder.export, index):
        return gan
    try:
        export.export_generator(sampling.load_generator(folder.path) if finished
                                else gan.sampling_generator, folder.export)
    except KeyboardInterrupt:
        logger.warning("Stopped while writing %s; the training is saved. Run the same %s "
                       "again to write it.", folder.export, again)
        raise
    return gan


def _redraw_live_views(fit_callbacks):
    """A stopped fit's live pictures, with the steps since their last drawing (a picture
    that cannot be drawn does not hide why the fit stopped)."""
    for view in (c for c in fit_callbacks if isinstance(c, notebook.LiveView)):
        try:
            view.on_train_end()
        except Exception as error:  # noqa: BLE001
            logger.warning("Could not draw the live view's last picture: %s", error)


def _keep_the_row_of_the_ended_epoch(gan, state, fit_callbacks):
    try:
        with stop_signals.held():
            callbacks.keep_the_row_of_an_ended_epoch(gan, int(state.epoch), fit_callbacks)
    except Exception as error:  # noqa: BLE001 -- the callback's error stays the one raised
        logger.warning("Epoch %d's history row is not written: %s", int(state.epoch) + 1,
                       error)


def _save_the_steps_taken(state, gan, folder):
    with stop_signals.held():
        path = state.save()  # refuses non-finite weights
        callbacks.SaveNetworks(folder.path).save(gan)  # the .keras files match it
    return path


def _row_of_the_unended_epoch(folder, state, steps_per_epoch):
    """The history row of the epoch after the ones done, if its steps all ran and the row
    was written before the stop (it then holds that epoch's metrics; it is kept), or None."""
    if state.steps_into_epoch < steps_per_epoch:
        return None
    return next((row for row in history.read_rows(folder.history)
                 if int(row["epoch"]) == int(state.epoch) + 1), None)


def _resume(config, gan, state, folder):
    """Loads the newest good checkpoint into ``gan``; refuses to start over a run whose
    checkpoints are all damaged or lost."""
    if state.restore_latest():
        # Learning rates are optimizer variables, restored with the checkpoint; the
        # flags' values apply from here on.
        gan.d_optimizer.learning_rate = config.d_lr
        gan.g_optimizer.learning_rate = config.g_lr
        if int(state.epoch) < config.epochs:
            logger.info("Resuming %s at epoch %d, step %d", config.output_dir,
                        int(state.epoch) + 1, state.step)
            if state.average_change:
                logger.warning(state.average_change)
    elif state.skipped or (recorded := _epochs_on_record(folder)) > 1:
        raise ConfigError(
            f"--output_dir={config.output_dir}: no checkpoint there reads back "
            f"({f'{len(state.skipped)} damaged' if state.skipped else 'none is left'}), so "
            "the run cannot continue; training again "
            "from step 0 would overwrite it. Move the folder away to keep it, then start "
            "a new run, or use another --output_dir")
    elif recorded:
        # Its first epoch ended, but its first checkpoint was never written (a full disk):
        # the same seed makes the same epoch again.
        logger.warning("%s: the run's first epoch ended without a checkpoint; training "
                       "starts again from step 0, which repeats that epoch", config.output_dir)


def _epochs_on_record(folder):
    """How many epochs the run's history rows and sample grids show were finished."""
    return max(len(history.read_rows(folder.history)), len(folder.sample_grids()))

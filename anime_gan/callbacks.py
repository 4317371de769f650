"""The Keras callbacks of a training run, in the order they run after each step or epoch.

1. ``StopOnNonFiniteLoss``: stop at the first NaN or infinite metric, before anything is saved.
2. ``KIDMonitor`` (``--eval_every``): add a small-sample KID to the epoch's logs.
3. ``HistoryCSV`` and ``HistoryPlots``: the epoch's row in ``history.csv``, and the plots.
4. ``StepTensorBoard``: Keras' TensorBoard logs, numbered by the generator step.
5. ``SampleGrid``: ``samples/epoch_NNNN.png`` from fixed latents (and to TensorBoard).
6. ``SaveNetworks``: the ``.keras`` files of the networks.
7. ``Checkpointer``: the training state, after the files it covers and the caller's own
   callbacks (what they change at a step is in its checkpoint); then
   ``stop_signals.StopAtStepEnd``.

Every file is written atomically (``anime_gan.files``).
"""

import logging
import math
import os

import keras
import tensorflow as tf

from anime_gan import history, notebook
from anime_gan.errors import NonFiniteLossError
from anime_gan.evaluation.features import generated_features
from anime_gan.evaluation.metrics import kernel_inception_distance
from anime_gan.files import atomic_path, save_image
from anime_gan.images import image_grid, to_uint8
from anime_gan.run_folder import RunFolder
from anime_gan.run_folder.checkpoints import checkpoint_prefixes

logger = logging.getLogger(__name__)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises ``NonFiniteLossError`` at the first step whose metrics are NaN or infinite.

    Raising (rather than Keras' ``stop_training``) skips the end-of-epoch
    callbacks, so no NaN weights are saved over good ones.  Place it first.
    ``run_dir``: the run folder, named in the message as the one to resume.
    """

    def __init__(self, run_dir=None):
        super().__init__()
        self.run_dir = run_dir

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            step = self.model.generator_steps
            again = notebook.the_same_call("train", self.run_dir)
            kept = ("The newest checkpoint and the run's files are from before this step; "
                    f"try a lower learning rate, then run the same {again} to resume."
                    if self._has_a_checkpoint() else
                    "No checkpoint was saved before it, so no step of this run is kept; try "
                    f"a lower learning rate, then run the same {again} to start it again.")
            raise NonFiniteLossError(f"training stopped at step {step}: "
                                     f"{', '.join(f'{k}={v}' for k, v in bad.items())}. {kept}")

    def _has_a_checkpoint(self):
        return self.run_dir is None or any(
            os.path.exists(f"{prefix}.index")  # an index may list one whose files are gone
            for prefix in checkpoint_prefixes(RunFolder(self.run_dir).checkpoints))


class KIDMonitor(keras.callbacks.Callback):
    """Every ``every`` epochs, adds ``kid`` (x 1e3 is usual for reading) to the epoch's logs.

    It uses ``num_samples`` generated and real images, so it is a cheap trend, not a
    figure to publish.  Place it before the callbacks that write the logs.
    """

    def __init__(self, backbone, real, every, num_samples, seed=0):
        super().__init__()
        self.backbone, self.real = backbone, real
        self.every, self.num_samples, self.seed = every, num_samples, seed

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        fake = generated_features(self.model.sampling_generator, self.backbone, self.num_samples,
                                  self.seed)
        size = min(1000, len(self.real), len(fake))
        logs["kid"], _ = kernel_inception_distance(self.real, fake, 20, size)


class HistoryCSV(keras.callbacks.Callback):
    """Per-epoch metrics in ``history.csv``, epochs numbered from 1 like the sample grids;
    a resumed run replaces the rows of epochs it trains again."""

    def __init__(self, csv_path):
        super().__init__()
        self.csv_path = csv_path

    def on_epoch_end(self, epoch, logs=None):
        history.append_epoch(self.csv_path, epoch + 1, logs)


class HistoryPlots(keras.callbacks.Callback):
    """After each epoch, redraws the plots from ``history.csv`` (place after ``HistoryCSV``)."""

    def __init__(self, csv_path, output_dir):
        super().__init__()
        self.csv_path = csv_path
        self.output_dir = output_dir

    def on_epoch_end(self, epoch, logs=None):
        history.plot_history(self.csv_path, self.output_dir)


class StepTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, numbering per-step metrics by the generator step,
    so a resumed run continues its curves instead of starting again at 0, and epoch
    metrics from 1, as ``history.csv`` and ``samples/epoch_NNNN.png`` number epochs."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._global_train_batch = self.model.generator_steps
        self._fitting = True

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self._logged_step = self._global_train_batch

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        self._fitting = False

    def close(self):
        """Writes out the event files of a fit that was stopped, which Keras closes only
        when a fit ends: without it, the last steps before a Ctrl-C are not logged."""
        if getattr(self, "_fitting", False):
            try:
                self._log_the_step_the_stop_cut_off()
                self.on_train_end()
            except IndexError:  # stopped inside Keras's own flush: its writer stack is empty
                self._fitting = False

    def _log_the_step_the_stop_cut_off(self):
        """A stop that lands as a step returns leaves the step done (and checkpointed) but
        its metrics unseen by the callbacks: they are the trackers' running means."""
        step = self._global_train_batch
        if self.model.generator_steps == step and getattr(self, "_logged_step", 0) != step:
            self.on_train_batch_end(None, {name: float(tracker.result())
                                           for name, tracker in self.model.trackers.items()})


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, writes ``samples/epoch_NNNN.png`` from one fixed latent batch,
    and the same grid to TensorBoard if ``log_dir`` is given."""

    def __init__(self, sample_dir, latents, log_dir=None):
        super().__init__()
        self.sample_dir = sample_dir
        self.latents = latents
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.sample_dir, exist_ok=True)
        images = self.model.sampling_generator(self.latents, training=False)
        grid = image_grid(keras.ops.convert_to_numpy(to_uint8(images)))
        save_image(os.path.join(self.sample_dir, f"epoch_{epoch + 1:04d}.png"), grid)
        if self.log_dir:
            self._log_to_tensorboard(grid, epoch + 1)

    def _log_to_tensorboard(self, grid, epoch):
        """The grid as an image summary in ``LOG_DIR/samples`` (TensorFlow-specific)."""
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        with self._writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch)
        self._writer.flush()


class SaveNetworks(keras.callbacks.Callback):
    """After each epoch (and, called by ``train``, when it is stopped), saves ``generator.keras``, ``discriminator.keras`` and, with
    an EMA generator, ``generator_ema.keras`` into ``output_dir``.

    A run resumed with ``--ema_decay=0`` keeps the average it had as
    ``generator_ema_stale.keras``, so that ``generator_ema.keras`` is never older than
    the generator beside it.
    """

    STALE_EMA = "generator_ema_stale.keras"

    def __init__(self, output_dir):
        super().__init__()
        self.output_dir = output_dir

    def on_epoch_end(self, epoch, logs=None):
        self.save(self.model)

    def save(self, gan):
        """Writes ``gan``'s networks now (also when training stops between epochs)."""
        networks = [("generator", gan.generator), ("discriminator", gan.discriminator)]
        if gan.ema_generator is not None:
            networks.append(("generator_ema", gan.ema_generator))
        for name, network in networks:
            with atomic_path(os.path.join(self.output_dir, f"{name}.keras")) as tmp:
                network.save(tmp)
        if gan.ema_generator is None:
            self._set_aside_the_average_from_before()

    def _set_aside_the_average_from_before(self):
        average = os.path.join(self.output_dir, "generator_ema.keras")
        if os.path.exists(average):
            os.replace(average, os.path.join(self.output_dir, self.STALE_EMA))
            logger.warning("--ema_decay=0: the moving-average generator from before is now "
                           "%s; generator.keras is the run's current generator",
                           self.STALE_EMA)


class Checkpointer(keras.callbacks.Callback):
    """Saves the training state every ``every_steps`` steps and at the end of every epoch.

    Place it after the callbacks that write files, so an epoch's checkpoint is written
    after that epoch's history, samples and plots.
    """

    def __init__(self, state, every_steps):
        super().__init__()
        self.state = state
        self.every_steps = every_steps

    def on_train_batch_end(self, batch, logs=None):
        last_of_epoch = batch + 1 == self.params.get("steps")  # saved by on_epoch_end
        if self.every_steps and self.state.step % self.every_steps == 0 and not last_of_epoch:
            self.state.save()

    def on_epoch_end(self, epoch, logs=None):
        self.state.end_epoch()
        self.state.save()


class _Mark(keras.callbacks.Callback):
    def __init__(self, guard, inside):
        super().__init__()
        self.guard, self.inside = guard, inside

    def _mark(self, *args, **kwargs):
        self.guard.inside = self.inside

    on_train_begin = on_train_end = on_epoch_begin = on_epoch_end = _mark
    on_train_batch_begin = on_train_batch_end = _mark


class CallersCallbacks:
    """Tells whether an exception escaping ``fit`` came from the caller's callbacks.

    ``around(callbacks)`` puts a mark before and after them; Keras calls each hook on the
    list in order, so an exception raised while ``inside`` came from one of them, between
    steps: the weights are those of whole steps, and can be saved."""

    def __init__(self):
        self.inside = False

    def around(self, callbacks):
        return [_Mark(self, True), *callbacks, _Mark(self, False)] if callbacks else []


def close_event_files(fit_callbacks):
    """Writes out the TensorBoard event files of a fit that was stopped."""
    for callback in fit_callbacks:
        if isinstance(callback, StepTensorBoard):
            callback.close()


def end_epoch_without_metrics(gan, epoch, fit_callbacks):
    """The end of an epoch whose steps were all taken before a stop: its sample grid, its
    networks and its checkpoint, and the plots of the history row it has if that was
    written before the stop (its metrics are not known again)."""
    for callback in fit_callbacks:
        if isinstance(callback, (HistoryPlots, SampleGrid, SaveNetworks, Checkpointer)):
            callback.set_model(gan)
            callback.on_epoch_end(epoch)


def keep_the_row_of_an_ended_epoch(gan, epoch, fit_callbacks):
    """After a stop between an epoch's last step and its end (a caller's callback raised
    there): the epoch's history row and plots, unless written, from the running means its
    end would have logged (not an ``--eval_every`` KID: none is measured).  The resume then
    ends the epoch with that row, as after Ctrl-C."""
    for callback in fit_callbacks:
        if isinstance(callback, HistoryCSV) and any(
                int(row["epoch"]) == epoch + 1 for row in history.read_rows(callback.csv_path)):
            return
        if isinstance(callback, (HistoryCSV, HistoryPlots)):
            callback.on_epoch_end(epoch, {name: tracker.result()
                                          for name, tracker in gan.trackers.items()})

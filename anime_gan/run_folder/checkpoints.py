"""Checkpoints of the whole training state, with ``tf.train.CheckpointManager``.

This is TensorFlow-specific: ``tf.train.Checkpoint`` tracks the Keras networks,
optimizers and seed generator through the TensorFlow backend's variables.

TensorFlow writes a checkpoint's files first and then replaces the small
``checkpoint`` index file atomically, so a process killed at any moment leaves
the index pointing at the newest complete checkpoint.
"""

import logging

import keras
import numpy as np
import tensorflow as tf

from anime_gan.errors import ArtifactWriteError, NonFiniteLossError

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 3


def all_finite(variables):
    return all(np.all(np.isfinite(keras.ops.convert_to_numpy(v))) for v in variables)


class TrainingState:
    """Everything a run needs to continue: networks, optimizers, seeds, counters.

    The step counter is the generator optimizer's ``iterations``; ``epoch``
    counts completed epochs and ``epoch_start_step`` is the step at which the
    current epoch began.
    """

    def __init__(self, gan, fixed_latents, directory, max_to_keep=KEEP_CHECKPOINTS):
        self.gan = gan
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.epoch_start_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                            name="epoch_start_step")
        self.fixed_latents = tf.Variable(fixed_latents, trainable=False, name="fixed_latents")
        ema = {} if gan.ema_generator is None else {"ema_generator": gan.ema_generator}
        self.checkpoint = tf.train.Checkpoint(
            **ema,
            generator=gan.generator,
            discriminator=gan.discriminator,
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            latent_seed=gan.seed_generator.state,
            epoch=self.epoch,
            epoch_start_step=self.epoch_start_step,
            fixed_latents=self.fixed_latents,
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep)

    @property
    def step(self):
        """Generator steps taken so far."""
        return self.gan.generator_steps

    @property
    def steps_into_epoch(self):
        return self.step - int(self.epoch_start_step)

    def restore_latest(self):
        """Loads the newest checkpoint, if any; returns its path or None."""
        path = self.manager.latest_checkpoint
        if path:
            self.checkpoint.restore(path).assert_consumed()
        return path

    def save(self):
        """Writes a checkpoint; refuses if the weights are no longer finite."""
        networks = [self.gan.generator, self.gan.discriminator]
        if self.gan.ema_generator is not None:
            networks.append(self.gan.ema_generator)
        if not all(all_finite(n.weights) for n in networks):
            raise NonFiniteLossError(
                f"the weights are NaN or infinite at step {self.step}; not saving them "
                "over the newest good checkpoint")
        try:
            path = self.manager.save()
        except (OSError, tf.errors.OpError) as error:
            raise ArtifactWriteError(
                f"could not write a checkpoint in {self.manager.directory}: {error}; the "
                "earlier checkpoints are intact") from error
        logger.info("Saved checkpoint %s (%d epochs done, step %d)", path,
                    int(self.epoch), self.step)
        return path

    def end_epoch(self):
        self.epoch.assign_add(1)
        self.epoch_start_step.assign(self.step)

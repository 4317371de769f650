"""Checkpoints of the whole training state, with ``tf.train.CheckpointManager``.

This is TensorFlow-specific: ``tf.train.Checkpoint`` tracks the Keras networks,
optimizers and seed generator through the TensorFlow backend's variables.

TensorFlow writes a checkpoint's files first and then replaces the small
``checkpoint`` index file atomically, so a process killed at any moment leaves a
complete checkpoint; one the index missed is found by its files, and listed again.
"""

import contextlib
import glob
import itertools
import logging
import os
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

from anime_gan.errors import (ArtifactWriteError, NonFiniteLossError, first_line,
                              tensorflow_message)

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 3


def all_finite(variables):
    return all(np.all(np.isfinite(keras.ops.convert_to_numpy(v))) for v in variables)


@contextlib.contextmanager
def _tensorflow_warnings_held():
    """TensorFlow's Python warnings held back: its own words for what this module then
    reports in one line (a damaged index), or its notice that the index writer is
    deprecated (CheckpointManager, its successor, cannot leave out a damaged checkpoint)."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tf_logger.setLevel(level)


def index_state(directory):
    """The ``checkpoint`` index file's contents, or None if it is missing or unreadable
    (empty, binary or cut short after a crash or a full disk: the ``ckpt-N`` files still
    count)."""
    index = os.path.join(directory, "checkpoint")
    try:
        with _tensorflow_warnings_held():
            state = tf.train.get_checkpoint_state(directory)
    except (ValueError, UnicodeDecodeError, tf.errors.OpError) as error:
        reason = _reason(error)
    else:
        if state is not None or not os.path.exists(index):
            return state
        reason = "it does not parse"  # TensorFlow says so in a warning and returns None
    logger.warning("The checkpoint index %s is damaged (%s); using the ckpt-N files", index,
                   reason)
    return None


def write_index(directory, newest):
    """Rewrites the index: ``newest`` first, then every ``ckpt-N`` there, each with its
    file's time, so that CheckpointManager keeps the newest and deletes the oldest.

    The names are written as they are, relative to the index: given a relative folder,
    TensorFlow would rewrite them relative to the working folder (``../../ckpt-1``)."""
    prefixes = list(reversed(_newest_first(_written(directory))))
    times = [os.path.getmtime(p + ".index") for p in prefixes]
    with _tensorflow_warnings_held():
        tf.compat.v1.train.update_checkpoint_state(
            os.path.abspath(directory), os.path.basename(newest),
            [os.path.basename(p) for p in prefixes],
            all_model_checkpoint_timestamps=times, last_preserved_timestamp=0.0)


def _unused_prefix(folder, name):
    """``folder/name``, or ``name~2``, ``name~3``, ... after an earlier copy of that name
    (a checkpoint number is used again once its damaged checkpoint is set aside)."""
    names = itertools.chain([name], (f"{name}~{n}" for n in itertools.count(2)))
    return next(os.path.join(folder, n) for n in names
                if not glob.glob(glob.escape(os.path.join(folder, n)) + ".*"))


def checkpoint_prefixes(directory):
    """The checkpoints in ``directory``, newest first: those its index lists and any
    ``ckpt-N`` whose files are there (the index itself may be damaged)."""
    prefixes = set()
    state = index_state(directory)
    if state:
        listed = [*state.all_model_checkpoint_paths, state.model_checkpoint_path]
        prefixes.update(os.path.join(directory, os.path.basename(p)) for p in listed if p)
    return _newest_first(prefixes | _written(directory))


def _index_needs_rewriting(state, directory):
    """Whether an index is damaged (None), lists checkpoints outside ``directory``
    (``../../ckpt-1``, relative to the working folder of an earlier version's repair:
    CheckpointManager would delete files there), or leaves out a checkpoint written
    there (a process killed between a checkpoint's files and the index: never pruned)."""
    if state is None:
        return True
    here = os.path.abspath(directory)
    listed = {os.path.abspath(p)
              for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path] if p}
    return (any(os.path.dirname(p) != here for p in listed)
            or bool({os.path.abspath(p) for p in _written(directory)} - listed))


def _written(directory):
    """The ``ckpt-N`` prefixes whose index files are in ``directory``."""
    return {p[:-len(".index")]
            for p in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index"))}


def _newest_first(prefixes):
    numbered = [(int(m.group(1)), p) for p in prefixes
                if (m := re.search(r"ckpt-(\d+)$", p))]
    return [p for _, p in sorted(numbered, reverse=True)]


def _reason(error):
    """The first line of an error, as the reason a checkpoint was skipped."""
    text = first_line(error)
    return text if len(text) <= 160 else text[:157] + "..."


def read_newest(read, directory):
    """Calls ``read(prefix)`` on the newest checkpoint it succeeds on, newest first.

    Each damaged or incomplete checkpoint skipped on the way is logged in one line
    with the reason.  Returns (the prefix read or None, [(skipped prefix, reason)]).
    """
    skipped = []
    for prefix in checkpoint_prefixes(directory):
        try:
            read(prefix)
        except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError,
                OSError) as error:
            skipped.append((prefix, _reason(error)))
            logger.warning("Skipped the checkpoint %s: %s", prefix, _reason(error))
            continue
        return prefix, skipped
    return None, skipped


def saved_objects(prefix):
    """The top-level names saved in a checkpoint (``generator``, ``ema_generator``, ...)."""
    return {name.split("/")[0] for name, _ in tf.train.list_variables(prefix)}


class TrainingState:
    """Everything a run needs to continue: networks, optimizers, seeds, counters.

    The step counter is the GAN's ``step_counter`` (steps taken, float16 steps whose
    update the loss scale skipped included); ``epoch`` counts completed epochs and
    ``epoch_start_step`` is the step at which the current epoch began.
    """

    # Parts a checkpoint may lack: older runs had no step counter, and a run may
    # have been trained with or without a moving-average generator.
    OPTIONAL = ("ema_generator", "step")

    def __init__(self, gan, fixed_latents, directory, max_to_keep=KEEP_CHECKPOINTS):
        self.gan = gan
        self.directory = directory
        self.max_to_keep = max_to_keep
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.epoch_start_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                            name="epoch_start_step")
        self.fixed_latents = tf.Variable(fixed_latents, trainable=False, name="fixed_latents")
        # How the restored run's moving average changes once it trains on (a message).
        self.average_change = None
        self.checkpoint = tf.train.Checkpoint(**self._objects())
        index = os.path.join(directory, "checkpoint")
        if os.path.exists(index) and _index_needs_rewriting(index_state(directory), directory):
            self._rebuild_index()
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep)
        self.skipped = []  # (prefix, reason) of the damaged checkpoints passed over
        self._saved = None  # (path, step, epoch) of the checkpoint last written or read

    def _objects(self):
        objects = dict(generator=self.gan.generator, discriminator=self.gan.discriminator,
                       d_optimizer=self.gan.d_optimizer, g_optimizer=self.gan.g_optimizer,
                       latent_seed=self.gan.seed_generator.state, step=self.gan.step_counter,
                       epoch=self.epoch, epoch_start_step=self.epoch_start_step,
                       fixed_latents=self.fixed_latents)
        if self.gan.ema_generator is not None:
            objects["ema_generator"] = self.gan.ema_generator
        return objects

    @property
    def step(self):
        """Generator steps taken so far."""
        return self.gan.generator_steps

    @property
    def steps_into_epoch(self):
        return self.step - int(self.epoch_start_step)

    def restore_latest(self, repair=True):
        """Loads the newest checkpoint that reads back completely; returns its path or None.

        Damaged checkpoints are skipped (``self.skipped`` says which and why) and, with
        ``repair`` and an older checkpoint read, moved into ``checkpoints/damaged/`` and
        left out of the index, so that training continues from the one that was read.
        """
        self._remove_half_written()  # by a process killed while it saved
        path, self.skipped = read_newest(self._restore, self.directory)
        if repair and path and self.skipped:
            self._set_aside_damaged(path)
        if path:
            self._saved = (path, self.step, int(self.epoch))
        return path

    def _restore(self, prefix):
        saved = saved_objects(prefix)
        objects = {name: value for name, value in self._objects().items()
                   if name not in self.OPTIONAL or name in saved}
        reader = tf.train.Checkpoint(**objects)
        # Parts the checkpoint has but this run does not (a moving average now turned
        # off) are left unread; everything this run has must be read.
        reader.restore(prefix).expect_partial().assert_existing_objects_matched()
        self.checkpoint.save_counter.assign(reader.save_counter)
        if "step" not in saved:  # a run from before the step counter
            self.gan.step_counter.assign(self.gan.g_optimizer.iterations)
        if self.gan.ema_generator is not None and "ema_generator" not in saved:
            self.average_change = ("The run had no moving-average generator; it starts now "
                                   f"from the current generator (--ema_decay={self.gan.ema_decay:g})")
            self.gan.ema_generator.set_weights(self.gan.generator.get_weights())
        if self.gan.ema_generator is None and "ema_generator" in saved:
            self.average_change = ("--ema_decay=0: the run's moving-average generator is "
                                   "dropped; samples and the export now come from the "
                                   "generator itself")

    def _set_aside_damaged(self, restored):
        damaged = os.path.join(self.directory, "damaged")
        os.makedirs(damaged, exist_ok=True)
        for prefix, _ in self.skipped:
            target = _unused_prefix(damaged, os.path.basename(prefix))
            for path in glob.glob(glob.escape(prefix) + ".*"):
                os.replace(path, target + path[len(prefix):])
        write_index(self.directory, restored)
        logger.warning("Moved %d damaged checkpoint(s) to %s", len(self.skipped), damaged)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory,
                                                  self.max_to_keep)

    def _rebuild_index(self):
        """An index to rewrite (``_index_needs_rewriting``), rewritten from the ``ckpt-N``
        files (or removed if there are none), before CheckpointManager reads it."""
        prefixes = _newest_first(_written(self.directory))
        if prefixes:
            write_index(self.directory, prefixes[0])
            logger.warning("Rewrote the checkpoint index from %d checkpoint(s)", len(prefixes))
        else:
            os.remove(os.path.join(self.directory, "checkpoint"))

    def save(self):
        """Writes a checkpoint; refuses if the weights are no longer finite.  Nothing new
        since the last one written or read (an interrupt just after an epoch's checkpoint):
        that one's path, and no copy pushing an older checkpoint out."""
        if self._saved and self._saved[1:] == (self.step, int(self.epoch)) and \
                os.path.exists(self._saved[0] + ".index"):
            return self._saved[0]
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
            self._remove_half_written()
            raise ArtifactWriteError(
                f"could not write a checkpoint in {self.manager.directory}: "
                f"{tensorflow_message(error)}; the earlier checkpoints are intact") from error
        self._saved = (path, self.step, int(self.epoch))
        logger.info("Saved checkpoint %s (%d epoch%s done, step %d)", path, self._saved[2],
                    "s" * (self._saved[2] != 1), self.step)
        return path

    def _remove_half_written(self):
        """The temporary folders of checkpoints, and index files, whose save did not finish."""
        for temporary in glob.glob(os.path.join(glob.escape(self.directory), "ckpt-*_temp*")):
            shutil.rmtree(temporary, ignore_errors=True)
        for temporary in glob.glob(os.path.join(glob.escape(self.directory), "checkpoint.tmp*")):
            with contextlib.suppress(OSError):
                os.remove(temporary)

    def end_epoch(self):
        self.epoch.assign_add(1)
        self.epoch_start_step.assign(self.step)

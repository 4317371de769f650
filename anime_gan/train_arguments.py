"""What ``train`` is given, checked before any work: a config or settings, and callbacks.

``train`` only trains: the command line's other modes are Python calls of their own, and
the Keras callbacks that steer a compiled model's one ``optimizer`` find none on a GAN,
which has two.
"""

import logging
import os

import keras
import numpy as np

from anime_gan.config import TrainConfig
from anime_gan.data.folder_walk import enclosing_run, run_inside
from anime_gan.data.image_files import DEFAULT_MAX_PIXELS
from anime_gan.errors import ArgumentTypeError, ConfigError
from anime_gan.run_folder import RunFolder, data_gone, runs_cache_dir, saved_config

logger = logging.getLogger(__name__)

# Each command-line mode that is not training is the call MODE_run(RUN, ...): its arguments
# in the hint after the run folder.
OTHER_MODES = {"generate": ", num_images=64", "export": "", "evaluate": ", data_dir=..."}
# Settings read by those modes only.
OTHER_MODES_SETTINGS = {"num_images": "generate", "interpolate": "generate",
                        "num_samples": "evaluate"}
# Keras callbacks that set ``model.optimizer``'s learning rate (or swap its averages).
_ONE_OPTIMIZER_CALLBACKS = (keras.callbacks.LearningRateScheduler,
                            keras.callbacks.ReduceLROnPlateau, keras.callbacks.SwapEMAWeights)


def checked_arguments(config, callbacks, live):
    """``train``'s config and callbacks (as a list), each refused in one line when it is
    something else."""
    if live is not None and not isinstance(live, (bool, np.bool_)):
        raise ArgumentTypeError(f"train: live={live!r} must be True, False or None (in a notebook)")
    return checked_config(config), checked_callbacks(callbacks)


def checked_config(config):
    """``train``'s config argument, refused in one line when it is something else."""
    if config is not None and not isinstance(config, TrainConfig):
        hint = (f"; to continue the run there: train(RunFolder({os.fspath(config)!r})"
                ".read_config(), epochs=...)"
                if isinstance(config, (str, os.PathLike)) else "")
        raise ArgumentTypeError(f"train takes a TrainConfig or settings by name, not "
                                f"{type(config).__name__}{hint}")
    return config


def checked_callbacks(callbacks):
    """``train``'s callbacks as a list: one callback, a list of them, or None."""
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback):
        callbacks = [callbacks]
    elif callable(callbacks) or not _iterable(callbacks):
        callbacks = [callbacks]  # refused below, with the hint
    callbacks = list(callbacks)  # a generator of them is read once
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise ArgumentTypeError(
                f"train: callbacks are Keras callbacks, not {callback!r}; wrap a function in "
                "keras.callbacks.LambdaCallback(on_epoch_end=...)")
        for wrapped in _wrapped(callback):
            _refuse_one_optimizer_callback(wrapped)
    return callbacks


def _wrapped(callback):
    """``callback``, or the callbacks a ``keras.callbacks.CallbackList`` holds."""
    if isinstance(callback, keras.callbacks.CallbackList):
        return [inner for c in callback.callbacks for inner in _wrapped(c)]
    return [callback]


def _refuse_one_optimizer_callback(callback):
    if isinstance(callback, _ONE_OPTIMIZER_CALLBACKS):
        raise ArgumentTypeError(
            f"train: keras.callbacks.{type(callback).__name__} steers a model's one "
            "optimizer, and a GAN has two: set the learning rates in a callback of your "
            "own (self.model.g_optimizer.learning_rate = ..., and d_optimizer), or give "
            "g_lr and d_lr to a continued run")


def _iterable(value):
    try:
        iter(value)
    except TypeError:
        return False
    return not isinstance(value, (str, bytes))


def check_train_mode(config, given):
    """Refuses another mode (``train`` would train instead), given as a keyword or in
    ``config``; warns of the other modes' settings among the ``given`` keywords, which
    training ignores."""
    mode = given.get("mode", config.mode if config is not None else "train")
    run = given.get("output_dir", config.output_dir if config is not None else None)
    if mode in OTHER_MODES:
        run = os.fspath(run) if run else "RUN"
        raise ConfigError(f"train: mode={mode!r} is not training; call "
                          f"anime_gan.{mode}_run({run!r}{OTHER_MODES[mode]}) instead")
    for name in sorted(set(given) & set(OTHER_MODES_SETTINGS)):
        other = OTHER_MODES_SETTINGS[name]
        logger.warning("train: %s is for %s_run (--mode=%s), not training; ignored",
                       name, other, other)


def with_the_runs_data(config):
    """A run continued without --data_dir or --dataset trains on its own data, not on
    the built-in faces (give --data_dir if the data moved); without --cache_dir, with the
    cache its data used (``--cache_dir=`` is memory; the built-in faces used none).
    Returns the config and the lines that say so, for ``train`` to log once the run is
    known to continue."""
    saved = saved_config(config.output_dir) if config.resume else None
    if saved is None:
        return config, []
    notes = []
    if config.cache_dir is None:
        cache, moved = runs_cache_dir(saved, config.data_dir or saved.data_dir)
        config, notes = config.replace(cache_dir=cache), [moved] if moved else []
    else:
        config = config.replace(cache_dir=config.cache_dir or None)
    if config.data_dir or config.dataset or not (saved.data_dir or saved.dataset):
        return config, notes
    if gone := data_gone(saved, config.output_dir):
        raise ConfigError(f"--data_dir: {gone}")
    return (config.replace(data_dir=saved.data_dir, dataset=saved.dataset,
                           tfds_data_dir=config.tfds_data_dir or saved.tfds_data_dir),
            [f"Continuing on the run's data, {saved.data_dir or saved.dataset}", *notes])


def check_run_folder_apart(config):
    """Refuses an --output_dir inside another run (that run's next export would replace
    it), or around runs that a new run would mix with (and then hold inside it)."""
    if run := enclosing_run(config.output_dir):
        raise ConfigError(f"--output_dir={config.output_dir}: is inside the run folder {run}, "
                          "whose own files it would mix with; choose a folder outside it")
    if not RunFolder(config.output_dir).has_run() and (inner := run_inside(config.output_dir)):
        raise ConfigError(f"--output_dir={config.output_dir}: holds the run {inner}; a new run "
                          "there would mix with it; choose a folder of its own")


def without_unused_data_settings(config):
    """``config`` without the data folders that the data chosen does not read (config.json
    would record them, and a run continued on other data would use them), with one warning
    naming those and a --max_image_pixels given to a new run on a TFDS data set (a run
    setting, kept: it applies if the run goes on with a --data_dir)."""
    unused = {}
    if config.dataset and config.max_image_pixels != DEFAULT_MAX_PIXELS and \
            not RunFolder(config.output_dir).has_run():  # else most likely the run's own
        unused["max_image_pixels"] = "it checks the files of a --data_dir"
    if not config.dataset and config.tfds_data_dir:
        unused["tfds_data_dir"] = "it is for --dataset=tfds:..."
    if not (config.data_dir or config.dataset) and config.cache_dir:
        unused["cache_dir"] = "the built-in faces are made in memory"
    if unused:
        logger.warning("Not used with this data: %s", "; ".join(
            f"--{name}={getattr(config, name)} ({why})" for name, why in unused.items()))
    return config.replace(**{name: None for name in unused if name != "max_image_pixels"})

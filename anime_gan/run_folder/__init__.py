"""A run folder: where one training run keeps everything needed to use and continue it.

``RunFolder`` owns the folder's layout and its ``config.json``;
``run_folder.checkpoints`` holds the training state saved in ``checkpoints/``.
Training again into the same folder resumes the run; a different run is refused
rather than mixed into it.

    RUN/config.json            the settings (TrainConfig) of the run
    RUN/checkpoints/           the training state (TrainingState), the newest few
    RUN/history.csv, *.png     per-epoch metrics and their plots
    RUN/samples/epoch_N.png    a grid from fixed latents after every epoch
    RUN/generator.keras, discriminator.keras, generator_ema.keras
    RUN/export/                the generator as a TensorFlow SavedModel
    RUN/logs/                  TensorBoard
    RUN/generated/seed_S/      --mode=generate output
    RUN/eval.json              --mode=evaluate output
"""

import dataclasses
import glob
import logging
import os

from anime_gan.config import TrainConfig, quietly
from anime_gan.data.kaggle import is_kaggle
from anime_gan.errors import ArtifactWriteError, ConfigError
from anime_gan.files import atomic_path, read_json, save_json, user_path
from anime_gan.model_defaults import MODEL_SPECIFIC

logger = logging.getLogger(__name__)

# Settings a resumed run must share with the run it continues: the networks' shapes and
# precision, and what fixes which images and latents each step sees (the data stream
# is a function of the seed, the batch size and the batches per step).
ARCHITECTURE_SETTINGS = ("model", "image_size", "latent_dim", "upsampling", "mixed_precision",
                         "optimizer")
STREAM_SETTINGS = ("batch_size", "n_critic", "seed")


# Settings a run may be continued with that say nothing of how it was trained.
NOT_RECORDED_AS_CHANGES = ("mode", "epochs", "output_dir", "resume", "num_images",
                           "num_samples", "interpolate")


# Settings of one command, never taken from the run it continues (training takes the data
# settings itself: it checks that the data is still there).
OF_THE_COMMAND = ("mode", "output_dir", "resume", "num_images", "num_samples", "interpolate",
                  "data_dir", "dataset", "tfds_data_dir", "cache_dir")


# What every run's config.json has held: without them, defaults would stand in for the
# settings that shape the networks and the data stream.
RECORDED_SINCE_THE_FIRST_RUNS = ("model", "image_size", "latent_dim", "batch_size", "seed")


class RunFolder:
    """The paths of a run folder's files, and its saved settings."""

    def __init__(self, path):
        self.path = user_path(path, "RunFolder")

    def __repr__(self):
        return f"RunFolder({self.path!r})"

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    config = property(lambda self: self.join("config.json"))
    history = property(lambda self: self.join("history.csv"))
    checkpoints = property(lambda self: self.join("checkpoints"))
    logs = property(lambda self: self.join("logs"))
    samples = property(lambda self: self.join("samples"))
    export = property(lambda self: self.join("export"))
    generator = property(lambda self: self.join("generator.keras"))
    ema_generator = property(lambda self: self.join("generator_ema.keras"))
    eval_report = property(lambda self: self.join("eval.json"))
    eval_reports = property(lambda self: self.join("evals.jsonl"))

    def sample_grids(self):
        """The ``samples/epoch_NNNN.png`` files, in epoch order."""
        return sorted(glob.glob(os.path.join(glob.escape(self.samples), "epoch_*.png")))

    def generated(self, seed):
        return self.join("generated", f"seed_{seed}")

    def network_file(self, name):
        """``generator``, ``discriminator`` or ``generator_ema`` -> its ``.keras`` file."""
        return self.join(f"{name}.keras")

    def has_run(self):
        return os.path.isfile(self.config)

    def kept_nothing(self):
        """Whether its run stopped before it kept anything (a kill while the first step
        compiled): no checkpoint, history, sample grid, saved network or export, only
        config.json and the logs' first lines."""
        return not (os.path.isdir(self.checkpoints) and os.listdir(self.checkpoints)) and \
            not os.path.exists(self.history) and not self.sample_grids() and \
            not glob.glob(self.join("*.keras")) and not os.path.exists(self.export)

    def read_config(self):
        """The ``TrainConfig`` saved in the folder."""
        if not self.has_run():
            raise ConfigError(f"--output_dir={self.path}: no run here (no config.json)")
        try:
            saved = read_json(self.config)
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
            missing = [key for key in RECORDED_SINCE_THE_FIRST_RUNS if key not in saved]
            if missing:
                raise ValueError(f"no {', '.join(missing)}")
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"--output_dir={self.path}: config.json is damaged ({error}); restore it "
                "from a copy, or train into a new --output_dir") from None
        known = {field.name for field in dataclasses.fields(TrainConfig)}
        # Runs from before --ema_decay and --diffaugment existed had neither.
        saved.setdefault("ema_decay", 0.0)
        saved.setdefault("diffaugment", "")
        saved["output_dir"] = self.path  # wherever the folder is now, as it is named here
        for data in ("data_dir", "dataset"):  # "" from before empty ones were refused
            saved[data] = saved.get(data) or None
        try:
            with quietly():  # a setting an older version kept is no flag of this command
                return TrainConfig(**{k: v for k, v in saved.items() if k in known})
        except ConfigError as error:  # a value of the wrong type, or out of range
            raise ConfigError(
                f"--output_dir={self.path}: config.json is damaged ({error}); restore it "
                "from a copy, or train into a new --output_dir") from None

    def undo_of_a_config_change(self):
        """A function that puts config.json back as it is now, unless a checkpoint was
        written in between: settings that trained no step that was kept (a learning rate
        that made a NaN at once) do not become the run's, to be taken up by the next
        resume."""
        def text(path):
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError:
                return None

        earlier, index = text(self.config), text(self.join("checkpoints", "checkpoint"))

        def undo():
            if earlier is None or text(self.join("checkpoints", "checkpoint")) != index or \
                    text(self.config) == earlier:
                return
            try:
                with atomic_path(self.config) as tmp, open(tmp, "wb") as f:
                    f.write(earlier)
            except (OSError, ArtifactWriteError) as error:  # the failure's own error first
                logger.warning("%s keeps the new settings: %s", self.config, error)
                return
            logger.warning("%s keeps the settings it had: no step trained with the new ones "
                           "was kept", self.config)
        return undo

    def write_config(self, config, step=0, epoch=0):
        """Saves ``config``, its data and cache folders as absolute paths: the run is
        continued and evaluated from wherever the next command runs.  A run continued
        at ``step`` (``epoch`` epochs done) with other settings keeps a record of them
        under ``changes``: what each was, and from which step the new value applies."""
        settings = _as_json_with_absolute_paths(config)
        earlier = read_json(self.config) if self.has_run() else {}
        # As read back: an older version's spelling of the same value is no change.
        as_read = _as_json_with_absolute_paths(self.read_config()) if earlier else {}
        changed = {name: [as_read[name], value] for name, value in settings.items()
                   if name in earlier and as_read[name] != value
                   and name not in NOT_RECORDED_AS_CHANGES}
        changes = earlier.get("changes", [])
        if changed:
            changes = [*changes, {"from_step": step + 1, "in_epoch": epoch + 1,
                                  "settings": changed}]
            logger.warning("Continuing %s with other settings from step %d: %s", self.path,
                           step + 1, ", ".join(_change(name, old, new)
                                               for name, (old, new) in changed.items()))
        os.makedirs(self.path, exist_ok=True)
        save_json(self.config, {**settings, **({"changes": changes} if changes else {})})


def with_the_runs_settings(given):
    """The settings ``given`` by name, with the run's own for those left out when they
    continue a run (train mode, ``output_dir`` holding one, resume not turned off): a
    continued run trains as it did unless told otherwise, not with the defaults.  To
    evaluate a run, its own ``--backbone`` (and weights) stand in the same way."""
    mode = given.get("mode", "train")
    if not given.get("output_dir") or not given.get("resume", True) or \
            mode not in ("train", "evaluate"):
        return given
    saved = saved_config(given["output_dir"])
    if saved is None:
        return given
    # Continuing with another model is refused: not after warnings that it ignores the
    # run's own --n_critic or --gp_weight.
    model = given.get("model", saved.model)
    own = {name: value for name, value in dataclasses.asdict(saved).items()
           if name not in OF_THE_COMMAND and model in MODEL_SPECIFIC.get(name, (model,))
           and (mode == "train" or name in ("backbone", "backbone_weights"))}
    return {**own, **given}


def _change(name, old, new):
    """``--g_lr=0.0001 (was 0.0002)``; ``--cache_dir unset (was PATH)`` for a value taken
    away (the cache back in memory), not ``None``, which no flag gives."""
    return (f"--{name} unset" if new is None else f"--{name}={new}") + \
        f" (was {'unset' if old is None else old})"


def saved_config(output_dir):
    """The settings of the run in ``output_dir``, or None: no run there (or one that kept
    nothing: a new run starts there), or a damaged config.json (``check_resumable``
    refuses it, saying why)."""
    folder = RunFolder(output_dir)
    try:
        return folder.read_config() if folder.has_run() and not folder.kept_nothing() else None
    except ConfigError:
        return None


def data_gone(saved, run_dir):
    """Why the run's recorded data folder cannot be used, when it is no longer there (a
    ``kaggle:`` handle is looked up, never gone), or None."""
    data_dir = saved.data_dir
    if not data_dir or is_kaggle(data_dir) or os.path.isdir(data_dir):
        return None
    return (f"the run in {run_dir} was trained on {data_dir}, which is not there any more; "
            "give --data_dir=PATH where its images are now")


def runs_cache_dir(saved, data_dir):
    """The cache folder of the run whose settings are ``saved``, for ``data_dir`` (None for
    the built-in faces), and a line to log when it was found elsewhere.  One kept inside
    the run's data folder moves with it: gone from its place, it is looked for at the same
    place inside ``data_dir`` (its files are keyed by paths relative to the data folder)."""
    cache, old_data = (saved.cache_dir, saved.data_dir) if saved.data_dir or saved.dataset \
        else (None, None)
    if not (cache and old_data and data_dir) or os.path.isdir(cache) or is_kaggle(old_data):
        return cache, None
    try:
        inside = os.path.relpath(cache, old_data)
    except ValueError:  # on another drive
        return cache, None
    moved = os.path.join(os.path.abspath(data_dir), inside)
    if inside.split(os.sep)[0] == os.pardir or not os.path.isdir(moved):
        return cache, None
    return moved, (f"The run's cache folder {cache} is gone; using {moved}, its place in the "
                   "moved data folder")


def _as_json_with_absolute_paths(config):
    settings = dataclasses.asdict(config)
    for name in ("data_dir", "cache_dir", "tfds_data_dir", "backbone", "backbone_weights"):
        if settings[name] and not is_kaggle(settings[name]) and settings[name] != "inception":
            settings[name] = os.path.abspath(settings[name])
    return settings


def check_resumable(config):
    """Whether ``config.output_dir`` holds a run to continue; refuses to mix two runs."""
    folder = RunFolder(config.output_dir)
    if not folder.has_run():
        if os.path.exists(folder.checkpoints) or os.path.exists(folder.history):
            raise ConfigError(
                f"--output_dir={config.output_dir}: holds a run's checkpoints or history but "
                "no config.json, so it cannot be continued safely; restore config.json, or "
                "use another --output_dir")
        return False
    if folder.kept_nothing():  # nothing to continue, nothing to lose
        try:
            os.remove(folder.config)
        except OSError as error:
            raise ConfigError(f"--output_dir={config.output_dir}: cannot replace the config.json "
                              f"of a run that kept nothing ({error.strerror or error})") from None
        logger.info("%s: its run stopped before it kept anything; a new run starts there",
                    config.output_dir)
        return False
    if not config.resume:
        raise ConfigError(
            f"--output_dir={config.output_dir}: a run already exists here and --noresume "
            "was given; choose a new --output_dir or drop --noresume to continue it")
    saved = folder.read_config()
    wrong = [name for name in ARCHITECTURE_SETTINGS + STREAM_SETTINGS
             if getattr(saved, name) != getattr(config, name)
             and not (name == "n_critic" and config.model == "dcgan")]  # one update a step
    if wrong:  # all at once, not one a try
        def flags(settings):
            return " ".join(f"--{name}={getattr(settings, name)}" for name in wrong)
        raise ConfigError(
            f"{flags(config)}: the run in {config.output_dir} was trained with "
            f"{flags(saved)}; resume with {'that value' if len(wrong) == 1 else 'those'}, "
            "or use a new --output_dir")
    return True

"""The settings of a training run, one field per command-line flag."""

import contextlib
import contextvars
import dataclasses
import datetime
import difflib
import itertools
import logging
import os
from typing import Optional

from anime_gan.augment import parse_policy
from anime_gan.data.image_files import DEFAULT_MAX_PIXELS, not_a_folder
from anime_gan.data.kaggle import handle_problem, is_kaggle
from anime_gan.devices import PRECISIONS, STRATEGIES
from anime_gan.errors import MAX_SEED, ConfigError
from anime_gan.model_defaults import (ADAM_BETAS_FOR_CRITICS, CHECKPOINT_EVERY_DEFAULTS,
                                      DIFFAUGMENT_DEFAULTS, MODEL_SPECIFIC, MODELS,
                                      N_CRITIC_DEFAULTS, OPTIMIZER_DEFAULTS)
from anime_gan.networks import SUPPORTED_IMAGE_SIZES, UPSAMPLING
from anime_gan.setting_types import check_types

logger = logging.getLogger(__name__)
# Inside ``quietly()``: settings that do not apply are dropped without a warning.
_QUIET = contextvars.ContextVar("quiet", default=False)

MODES = ("train", "export", "generate", "evaluate")
OPTIMIZERS = ("adam", "rmsprop")
MAX_LATENT_DIM = 4096  # the generator's first layer holds latent_dim x 8192 weights


@contextlib.contextmanager
def quietly():
    """Configs made inside drop the settings that do not apply without a warning: a saved
    run's config.json, read again and again, gave them before this version dropped them."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def _field(default, help):
    return dataclasses.field(default=default, metadata={"help": help})


def _new_run_folder(model):
    """runs/<time>-<model>, then -2, -3, ... if taken (two runs started in one second)."""
    base = os.path.join("runs", f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{model}")
    candidates = itertools.chain([base], (f"{base}-{n}" for n in itertools.count(2)))
    return next(path for path in candidates if not os.path.lexists(path))


def _check_names(settings):
    names = [field.name for field in dataclasses.fields(TrainConfig)]
    for name in settings:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise ConfigError(f"{name}: no such setting{hint}; the settings are the "
                              "command line's flags (anime-gan --help)")


@dataclasses.dataclass
class TrainConfig:
    mode: str = _field("train", "train; export (write RUN/export/ from a run); generate "
                                "(write images from a run); or evaluate (FID/KID/PR of a run).")
    model: str = _field("dcgan", "GAN to train: dcgan; wgan (WGAN-GP); wgan_clip (the "
                                 "original WGAN, weight clipping); or sngan (hinge loss, "
                                 "spectral normalisation).")
    epochs: int = _field(50, "Number of epochs.")
    batch_size: int = _field(64, "Images per batch (per discriminator update for wgan, "
                                 "wgan_clip and sngan).")
    steps_per_epoch: Optional[int] = _field(
        None, "Generator steps per epoch; default: one pass over the data.")
    latent_dim: int = _field(128, "Size of the generator's latent vector.")
    image_size: int = _field(64, "Training resolution: 64 or 128.")
    data_dir: Optional[str] = _field(
        None, "Folder of JPEG/PNG/BMP/GIF/WebP images, searched recursively; or "
              "kaggle:OWNER/NAME, a Kaggle data set downloaded by kagglehub into its cache "
              "(e.g. kaggle:splcher/animefacedataset).")
    dataset: Optional[str] = _field(
        None, "TensorFlow Datasets image data set, as tfds:NAME[/CONFIG]; "
              "tfds:anime_faces (or tfds:anime_faces/64px) from a manual Kaggle download.")
    tfds_data_dir: Optional[str] = _field(
        None, "--dataset: where TensorFlow Datasets keeps prepared data sets, manual "
              "downloads in its downloads/manual/; default $TFDS_DATA_DIR or "
              "~/tensorflow_datasets.")
    output_dir: Optional[str] = _field(
        None, "Where the run is written; default runs/<time>-<model>.")
    seed: int = _field(0, "Seed for weights, latents and data order.")
    g_lr: Optional[float] = _field(None, "Generator learning rate (default per model).")
    g_beta1: Optional[float] = _field(None, "Generator Adam beta1 (default per model).")
    g_beta2: Optional[float] = _field(None, "Generator Adam beta2 (default per model).")
    d_lr: Optional[float] = _field(None, "Discriminator/critic learning rate (default per model).")
    d_beta1: Optional[float] = _field(None, "Discriminator/critic Adam beta1 (default per model).")
    d_beta2: Optional[float] = _field(None, "Discriminator/critic Adam beta2 (default per model).")
    n_critic: Optional[int] = _field(
        None, "wgan, wgan_clip, sngan: discriminator (critic) updates per generator update; "
              "default 5 for wgan and wgan_clip, 1 for sngan.")
    clip_value: float = _field(0.01, "wgan_clip: critic weights are clipped to [-c, c].")
    optimizer: Optional[str] = _field(
        None, "adam or rmsprop (default per model: rmsprop for wgan_clip, else adam; "
              "rmsprop ignores the betas).")
    gp_weight: float = _field(10.0, "wgan: gradient-penalty weight lambda.")
    jit_compile: bool = _field(False, "Compile the train step with XLA (slower on CPUs).")
    mixed_precision: str = _field(
        "float32", "float32; or bfloat16 or float16 mixed precision (float32 weights, "
                   "outputs and losses; float16 adds loss scaling).")
    strategy: str = _field(
        "default", "tf.distribute strategy: default (one device), mirrored (all local "
                   "GPUs), multiworker (the cluster in TF_CONFIG) or tpu. --batch_size is "
                   "the global batch.")
    cache_dir: Optional[str] = _field(
        None, "Cache the decoded images in files under this folder instead of in memory, "
              "for data sets that do not fit in RAM (and the real images' features of "
              "--eval_every and evaluate, else kept in DATA_DIR/.anime_gan_cache).")
    checkpoint_every: Optional[int] = _field(
        None, "Generator steps between checkpoints (also saved at every epoch end); "
              "default 200 for dcgan and sngan, 40 for wgan and wgan_clip: a few minutes on a "
              "small CPU. 0: epochs only.")
    resume: bool = _field(True, "Continue the run in --output_dir (flags not given are its "
                                "own); --noresume refuses an existing run, never overwrites it.")
    num_images: int = _field(64, "generate: number of images to write.")
    num_samples: int = _field(10_000, "evaluate: generated and real images compared "
                                      "(FID depends on it).")
    backbone: str = _field("inception", "evaluate and --eval_every: inception (ImageNet "
                                        "InceptionV3), or a Keras model file PATH.keras; "
                                        "evaluate without it: the run's own.")
    upsampling: str = _field("transpose", "Generator upsampling: transpose (4x4 stride-2 "
                                          "transposed convolutions, the reference) or "
                                          "resize_conv (nearest resize + 3x3 convolution).")
    diffaugment: Optional[str] = _field(
        None, "DiffAugment policy for what the discriminator sees: a comma-separated subset "
              "of color,translation,cutout; empty: off. Default: all three for dcgan "
              "(measured better), off for wgan (measured worse), wgan_clip and sngan.")
    ema_decay: float = _field(0.999, "Keep an exponential moving average of the generator weights "
                                     "with this decay for samples, export and evaluation; 0: off.")
    eval_every: int = _field(0, "train: every N epochs, log KID on eval_samples images to "
                                "history and TensorBoard, with --backbone (0: never).")
    eval_samples: int = _field(500, "train: images for the --eval_every KID.")
    backbone_weights: Optional[str] = _field(
        None, "evaluate and --eval_every: InceptionV3 no-top ImageNet weights file; default: "
              "the Keras cache.")
    interpolate: bool = _field(
        False, "generate: also write a latent-interpolation grid and a GIF of the "
               "samples across epochs.")
    max_image_pixels: int = _field(
        DEFAULT_MAX_PIXELS, "Image files declaring more pixels (width x height) than this are "
                            "skipped before they are decoded.")

    @classmethod
    def from_settings(cls, **settings):
        """``TrainConfig(**settings)``; a name that is no setting is refused as a flag is."""
        _check_names(settings)
        return cls(**settings)

    def replace(self, **settings):
        """A copy with ``settings`` changed, checked as ``from_settings`` checks them."""
        _check_names(settings)
        return dataclasses.replace(self, **settings)

    def __post_init__(self):
        check_types(self)
        for name in ("data_dir", "output_dir", "cache_dir", "tfds_data_dir", "backbone",
                     "backbone_weights"):
            if getattr(self, name):
                setattr(self, name, os.path.expanduser(getattr(self, name)))
        self.validate()
        self.data_dir, self.dataset = self.data_dir or None, self.dataset or None
        self._drop_settings_that_do_not_apply()
        if self.checkpoint_every is None:
            self.checkpoint_every = CHECKPOINT_EVERY_DEFAULTS[self.model]
        if self.diffaugment is None:
            self.diffaugment = DIFFAUGMENT_DEFAULTS[self.model]
        if self.n_critic is None:
            self.n_critic = N_CRITIC_DEFAULTS[self.model]
        defaults = dict(OPTIMIZER_DEFAULTS[self.model])
        if self.optimizer is None:
            self.optimizer = defaults["optimizer"]
        if self.optimizer == "adam" and defaults["optimizer"] != "adam":
            defaults.update(ADAM_BETAS_FOR_CRITICS)  # RMSProp's model, trained with Adam
        for net in ("g", "d"):
            for key in ("lr", "beta1", "beta2"):
                if getattr(self, f"{net}_{key}") is None:
                    setattr(self, f"{net}_{key}", defaults[key])
        self.output_dir = self.output_dir or _new_run_folder(self.model)

    def validate(self):
        def fail(flag, message):
            value = getattr(self, flag)
            raise ConfigError(f"--{flag}{'' if value is None else f'={value}'}: {message}")

        for flag, allowed in (("mode", MODES), ("model", MODELS), ("upsampling", UPSAMPLING),
                              ("mixed_precision", PRECISIONS), ("strategy", STRATEGIES)):
            if getattr(self, flag) not in allowed:
                fail(flag, f"must be one of {', '.join(allowed)}")
        if self.output_dir == "":  # --output_dir=$UNSET would start a new run, not resume
            fail("output_dir", "is empty (an unset variable?); leave it out for a new run")
        if self.mode != "train" and not self.output_dir:
            fail("output_dir", f"--mode={self.mode} needs the run folder as --output_dir")
        for flag in ("epochs", "batch_size", "latent_dim", "n_critic"):
            if getattr(self, flag) is not None and getattr(self, flag) < 1:
                fail(flag, "must be at least 1")
        if self.latent_dim > MAX_LATENT_DIM:
            fail("latent_dim", f"must be at most {MAX_LATENT_DIM}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            fail("optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        if not self.clip_value > 0:
            fail("clip_value", "must be positive")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            fail("steps_per_epoch", "must be at least 1 (or unset for one pass over the data)")
        if self.image_size not in SUPPORTED_IMAGE_SIZES:
            fail("image_size", f"must be one of {', '.join(map(str, SUPPORTED_IMAGE_SIZES))}")
        for net in ("g", "d"):
            lr = getattr(self, f"{net}_lr")
            if lr is not None and not lr > 0:
                fail(f"{net}_lr", "must be positive")
            for beta in ("beta1", "beta2"):
                value = getattr(self, f"{net}_{beta}")
                if value is not None and not 0 <= value < 1:
                    fail(f"{net}_{beta}", "must be in [0, 1)")
        if self.checkpoint_every is not None and self.checkpoint_every < 0:
            fail("checkpoint_every", "must be 0 (epoch ends only) or more")
        if not 0 <= self.seed <= MAX_SEED:
            fail("seed", f"must be in [0, {MAX_SEED}]")
        if self.num_images < 1:
            fail("num_images", "must be at least 1")
        try:
            if self.diffaugment is not None:  # one spelling, as config.json records it
                self.diffaugment = ",".join(parse_policy(self.diffaugment))
        except ValueError as error:
            fail("diffaugment", str(error))
        if not 0 <= self.ema_decay < 1:
            fail("ema_decay", "must be in [0, 1)")
        if self.eval_every < 0:
            fail("eval_every", "must be 0 (never) or more")
        for flag in ("eval_samples", "num_samples"):
            if getattr(self, flag) < 10:
                fail(flag, "must be at least 10")
        if self.backbone != "inception" and not self.backbone.endswith(".keras"):
            fail("backbone", "must be inception or a PATH.keras file")
        if self.gp_weight < 0:
            fail("gp_weight", "must be non-negative")
        # --data_dir=$UNSET is no choice of the built-in faces; beside the other, it clears one.
        if self.data_dir == "" and not self.dataset or self.dataset == "" and not self.data_dir:
            fail("data_dir" if self.data_dir == "" else "dataset",
                 "is empty (an unset variable?); give the data, or leave the flag out")
        if self.data_dir and self.dataset:
            fail("dataset", "give either --data_dir or --dataset, not both")
        if self.dataset and not self.dataset.startswith("tfds:"):
            fail("dataset", "must look like tfds:NAME or tfds:NAME/CONFIG")
        if is_kaggle(self.data_dir) and handle_problem(self.data_dir):
            fail("data_dir", handle_problem(self.data_dir))
        if self.max_image_pixels < 1:
            fail("max_image_pixels", "must be at least 1")

    def _drop_settings_that_do_not_apply(self):
        """Settings the model, the optimizer (RMSProp's betas) or the backbone does not
        use, back to their defaults with a warning: config.json (and eval.json) would
        record them as if they had applied."""
        warn = logger.warning if not _QUIET.get() else lambda *args: None
        for flag, users in MODEL_SPECIFIC.items():
            value, default = getattr(self, flag), self.__dataclass_fields__[flag].default
            used = N_CRITIC_DEFAULTS[self.model] if flag == "n_critic" else default
            if self.model not in users and value not in (None, default, used):
                warn("--%s=%s: --model=%s does not use it (it is for %s); ignored",
                     flag, value, self.model, ", ".join(users))
                setattr(self, flag, default)
        defaults = OPTIMIZER_DEFAULTS[self.model]
        if (self.optimizer or defaults["optimizer"]) == "rmsprop":
            for flag in ("g_beta1", "g_beta2", "d_beta1", "d_beta2"):
                if getattr(self, flag) not in (None, defaults[flag[2:]]):
                    warn("--%s=%s: --optimizer=rmsprop has no betas (they are for adam); "
                         "ignored", flag, getattr(self, flag))
                    setattr(self, flag, None)
        if self.backbone != "inception" and self.backbone_weights:
            warn("--backbone_weights=%s: --backbone=%s holds its own weights (it is for "
                 "inception); ignored", self.backbone_weights, self.backbone)
            self.backbone_weights = None

    def check_paths(self):
        """The checks of the paths a training run reads and writes (not of a saved run's
        settings, read also after its data moved)."""
        if self.data_dir and not is_kaggle(self.data_dir) and not os.path.isdir(self.data_dir):
            raise ConfigError(f"--data_dir={self.data_dir}: " + (
                not_a_folder(self.data_dir) if os.path.exists(self.data_dir)
                else "no such folder"))
        out = os.path.join(os.path.realpath(self.output_dir), "")  # a run holding the data:
        if self.data_dir and os.path.join(os.path.realpath(self.data_dir), "").startswith(out):
            raise ConfigError(f"--output_dir={self.output_dir}: holds the --data_dir; its "
                              "sample grids would become training data: write the run elsewhere")
        for flag in ("output_dir", "cache_dir", "tfds_data_dir"):
            path = getattr(self, flag)
            if path and os.path.exists(path) and not os.path.isdir(path):
                raise ConfigError(f"--{flag}={path}: is a file, not a folder; choose a folder")


"""The documented experiments: flag files shipped in ``anime_gan/experiments/``, read by name.

``anime-gan --experiment=NAME`` and ``train(experiment=NAME)`` both start from the
settings a file gives; the command line's flags are defined here, one per
``TrainConfig`` field, so that a flag file means the same everywhere.
"""

import dataclasses
import os
import sys

from absl import flags

from anime_gan.config import TrainConfig
from anime_gan.errors import ConfigError
from anime_gan.setting_types import setting_type

EXPERIMENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "experiments")

_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string, bool: flags.DEFINE_boolean}


def experiment_names():
    """The documented experiments shipped in ``anime_gan/experiments/``, by name."""
    return sorted(name[:-len(".flags")] for name in os.listdir(EXPERIMENTS_DIR)
                  if name.endswith(".flags"))


def experiment_path(name):
    return os.path.join(EXPERIMENTS_DIR, f"{name}.flags")


def experiment_settings(name):
    """The settings a documented experiment's flag file gives, as ``TrainConfig``
    keywords (what ``train(experiment=NAME)`` starts from)."""
    if name not in experiment_names():
        raise ConfigError(f"--experiment={name}: must be one of {', '.join(experiment_names())}")
    return given_settings([f"--flagfile={experiment_path(name)}"])


def given_settings(args):
    """The settings that the command-line words ``args`` give, by name (absl's
    ``flags.Error`` if they do not parse)."""
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    flag_values(["anime-gan", *args])
    return {field.name: flag_values[field.name].value for field in dataclasses.fields(TrainConfig)
            if flag_values[field.name].present}


def define_flags(flag_values=flags.FLAGS):
    for field in dataclasses.fields(TrainConfig):
        _DEFINE[setting_type(field)](
            field.name, field.default, field.metadata["help"], flag_values=flag_values
        )
    flags.DEFINE_string(
        "experiment", None,
        f"A documented experiment's flags: {', '.join(experiment_names())}. Flags after it "
        "override it. --flagfile=PATH reads flags from a file of your own the same way.",
        flag_values=flag_values)


def warn_of_overridden_flags(experiment, before, after):
    """A flag given before ``--experiment`` with another value than the experiment's, and
    not given again after it, is overridden (as with ``--flagfile``, later flags win): say
    so, in case it was meant the other way."""
    try:
        earlier, later = given_settings(before), given_settings(after)
    except flags.Error:
        return  # the whole command line's parse says what is wrong
    for name, value in experiment_settings(experiment).items():
        if name in earlier and name not in later and earlier[name] != value:
            print(f"warning: --experiment={experiment} sets --{name}={value}, over the "
                  f"--{name}={earlier[name]} given before it (flags after --experiment "
                  "override it)", file=sys.stderr)

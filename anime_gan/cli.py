"""The command line: one absl flag per ``TrainConfig`` field."""

import dataclasses
import sys
import typing

from absl import flags

from anime_gan.config import ConfigError, TrainConfig

_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string, bool: flags.DEFINE_boolean}


def _base_type(annotation):
    """int for Optional[int], and so on."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def define_flags(flag_values=flags.FLAGS):
    for field in dataclasses.fields(TrainConfig):
        _DEFINE[_base_type(field.type)](
            field.name, field.default, field.metadata["help"], flag_values=flag_values
        )


def config_from_flags(flag_values=flags.FLAGS):
    """A validated ``TrainConfig``; on a bad value, prints it and exits with status 2."""
    try:
        return TrainConfig(**{
            field.name: flag_values[field.name].value
            for field in dataclasses.fields(TrainConfig)
        })
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

"""The kinds of value a setting takes, from its ``TrainConfig`` field's type, and the
check that a config's values are of those kinds."""

import dataclasses
import math
import numbers
import os
import typing

from anime_gan.errors import ConfigError

_KINDS = {int: (numbers.Integral, "an integer"), float: (numbers.Real, "a number"),
          str: (str, "a string"), bool: (bool, "true or false")}


def setting_type(field):
    """A ``TrainConfig`` field's type: int for Optional[int], and so on."""
    args = [a for a in typing.get_args(field.type) if a is not type(None)]
    return args[0] if args else field.type


def check_types(config):
    """Settings of the wrong type fail here, naming the flag; numbers become int and float."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is None and type(None) in typing.get_args(field.type):
            continue
        kind, words = _KINDS[setting_type(field)]
        if kind is str and isinstance(value, os.PathLike):  # a pathlib.Path for a folder
            value = os.fspath(value)
            setattr(config, field.name, value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(f"--{field.name}={value!r}: must be {words}")
        if kind is numbers.Real and not math.isfinite(value):
            raise ConfigError(f"--{field.name}={value!r}: must be a finite number")
        if kind in (numbers.Integral, numbers.Real):  # numpy's numbers as Python's
            setattr(config, field.name, int(value) if kind is numbers.Integral else float(value))

"""The command line: one absl flag per ``TrainConfig`` field, and the exit statuses.

A setting that does not fit the run folder or its data exits with status 2, a
training fault (NaN loss, a file that cannot be written) with 1, Ctrl-C with 130 and
SIGTERM with 143 (both after saving a checkpoint).
"""

import dataclasses
import logging
import sys
import typing

from absl import app, flags

from anime_gan import commands
from anime_gan.config import TrainConfig
from anime_gan.errors import ConfigError, Terminated, TrainingFault

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


def parse_flags(argv, flag_values=flags.FLAGS):
    """absl's flag parsing, but a malformed flag exits with status 2 in one line, like a bad value."""
    try:
        return flag_values(argv)
    except flags.Error as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def _exit_on_config_error(function):
    """Runs ``function``; a ``ConfigError`` prints one line and exits with status 2."""
    try:
        return function()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def config_from_flags(flag_values=flags.FLAGS):
    """A validated ``TrainConfig``; on a bad value, prints it and exits with status 2."""
    return _exit_on_config_error(lambda: TrainConfig(**{
        field.name: flag_values[field.name].value for field in dataclasses.fields(TrainConfig)
    }))


def run(config):
    """``commands.run(config)`` with the command line's exit statuses."""
    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # TF's INFO chatter
    try:
        return _exit_on_config_error(lambda: commands.run(config))
    except TrainingFault as fault:
        print(f"error: {fault}", file=sys.stderr)
        sys.exit(1)
    except Terminated:
        sys.exit(143)  # 128 + SIGTERM, as a shell reports it
    except KeyboardInterrupt:
        sys.exit(130)


def _main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    run(config_from_flags())


def main(argv=None):
    """The ``anime-gan`` command (also ``python main.py`` and ``python -m anime_gan``)."""
    if "model" not in flags.FLAGS:
        define_flags()
    app.run(_main, argv=argv, flags_parser=parse_flags)

"""The command line: one absl flag per ``TrainConfig`` field."""

import dataclasses
import logging
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
    """Does what ``config.mode`` asks: train, export or generate.

    A setting that does not fit the run folder or its data exits with status 2, a
    training fault (NaN loss, a file that cannot be written) with 1, Ctrl-C with 130.
    """
    from anime_gan.faults import TrainingFault

    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # TF's INFO chatter
    try:
        return _exit_on_config_error(lambda: _run(config))
    except TrainingFault as fault:
        print(f"error: {fault}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _run(config):
    if config.mode == "train":
        from anime_gan.train import train

        return train(config)
    from anime_gan import generate

    if config.mode == "export":
        return generate.export_run(config.output_dir)
    if config.mode == "evaluate":
        from anime_gan.evaluation import evaluate_run

        return evaluate_run(config.output_dir, config.num_samples, config.data_dir,
                            config.dataset, config.backbone, config.backbone_weights,
                            config.seed)
    return generate.generate_run(config.output_dir, config.num_images, config.seed,
                                 config.interpolate)

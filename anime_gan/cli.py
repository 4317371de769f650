"""The command line: one absl flag per ``TrainConfig`` field (``flag_files``), and the
exit statuses.

``anime-gan``, ``python -m anime_gan`` and ``python main.py`` are this same command.
A setting that does not fit the run folder or its data exits with status 2, a
training fault (NaN loss, a file that cannot be written) with 1, Ctrl-C with 130,
SIGTERM with 143 and SIGHUP with 129 (all after saving a checkpoint).
``--help`` lists the project's flags by group and exits 0; ``--helpfull`` lists
every flag, absl's and TensorFlow's too; ``--version`` prints the version.
"""

import dataclasses
import logging
import os
import re
import signal
import sys

from absl import app, flags

from anime_gan import __version__, commands, devices, progress
from anime_gan.config import MODELS, MODES, TrainConfig
from anime_gan.errors import ConfigError, Terminated, TrainingFault
from anime_gan.run_folder import with_the_runs_settings
from anime_gan.train_arguments import OTHER_MODES_SETTINGS
from anime_gan.flag_files import (EXPERIMENTS_DIR, define_flags,  # noqa: F401 (cli's API)
                                  experiment_names, experiment_path, warn_of_overridden_flags)
from anime_gan.help_text import GROUPS, help_text, print_and_exit  # noqa: F401 (cli's API)

_HELP_FLAGS = ("-h", "--help", "-help", "--helpshort", "-helpshort", "-?")
_HELPFULL_FLAGS = ("--helpfull", "-helpfull")
_VERSION_FLAGS = ("--version", "-version", "-V")

# Libraries that log routine INFO through Python logging (TensorFlow's SavedModel export
# through absl's logger): their warnings and errors only, unless --logger_levels names them.
_QUIET_LOGGERS = ("absl", "tensorflow")


def prog_name(argv0):
    """How the user started the command, for the commands we suggest."""
    base = os.path.basename(argv0)
    if base == "__main__.py":
        return "python -m anime_gan"
    if base.endswith(".py"):
        return f"python {argv0}"
    return "anime-gan"


def _fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _expand_experiments(argv):
    """``--experiment=NAME`` (or ``--experiment NAME``) -> ``--flagfile=`` its packaged file,
    in place, so later flags override it.  Returns the new argv and how many it expanded."""
    expanded, experiments, args = [], [], iter(argv)
    for arg in args:
        if arg in ("--experiment", "-experiment"):
            name = next(args, "")
        elif arg.startswith(("--experiment=", "-experiment=")):
            name = arg.split("=", 1)[1]
        else:
            expanded.append(arg)
            continue
        if name not in experiment_names():
            _fail(f"--experiment={name}: must be one of {', '.join(experiment_names())}")
        if experiments:  # the second would keep the settings of the first it does not set
            _fail(f"--experiment={name}: give one experiment, not also "
                  f"--experiment={experiments[0][1]}")
        experiments.append((len(expanded), name))
        expanded.append(f"--flagfile={experiment_path(name)}")
    for position, name in experiments:
        warn_of_overridden_flags(name, expanded[1:position], expanded[position + 1:])
    return expanded, len(experiments)


def parse_flags(argv, flag_values=flags.FLAGS):
    """absl's flag parsing, plus ``--experiment=NAME`` and a grouped ``--help`` (exit 0);
    a malformed flag exits with status 2 in one line, like a bad value."""
    if any(arg in _HELP_FLAGS for arg in argv[1:]):
        print_and_exit(help_text(flag_values, prog_name(argv[0])))
    if any(arg in _HELPFULL_FLAGS for arg in argv[1:]):
        print_and_exit(f"usage: {prog_name(argv[0])} [--flag=value ...]\n\n"
                        f"{flag_values.get_help()}\n")
    if any(arg in _VERSION_FLAGS for arg in argv[1:]):
        print_and_exit(f"anime-gan {__version__}\n")
    argv, expanded = _expand_experiments(argv)
    try:
        remaining = flag_values(argv)
    except flags.Error as error:  # absl's own prefix would follow ours
        _fail(_in_our_words(str(error).removeprefix("ERROR:: ").removeprefix("ERROR: "),
                            flag_values)
              + _where_in_flagfiles(getattr(error, "flagvalue", None), argv))
    except ValueError as error:  # absl's --logger_levels sets the levels as it parses
        _fail(f"--logger_levels: {error}; the levels are DEBUG, INFO, WARNING, ERROR "
              "and CRITICAL" if "level" in str(error) else error)
    if "experiment" in flag_values and flag_values["experiment"].present and not expanded:
        _fail("--experiment: give it on the command line, not in a flagfile")
    return remaining


# What a value absl cannot parse must be, by the flag's type or name (absl says it in Python's
# words).
_VALUE_KINDS = {"bool": "true or false", "int": "a whole number", "float": "a number",
                "logger_levels": "NAME:LEVEL pairs, e.g. absl:INFO,anime_gan:DEBUG"}


def _in_our_words(message, flag_values):
    """absl's "flag --epochs=abc: invalid literal for int() with base 10: 'abc'" as
    "--epochs=abc: must be a whole number"; other messages as they are."""
    parsed = re.match(r"flag --(\w+)=(.*?): ", message)
    name = parsed and parsed.group(1)
    kind = name in flag_values and (_VALUE_KINDS.get(name)
                                     or _VALUE_KINDS.get(flag_values[name].flag_type()))
    return f"--{name}={parsed.group(2)}: must be {kind}" if kind else message


def _where_in_flagfiles(flag, argv):
    """' (in --flagfile=F)' when a flag file on the command line holds ``flag``, not the
    command line itself."""
    if not flag or flag in argv:
        return ""
    for path in (arg.split("=", 1)[1] for arg in argv if arg.startswith("--flagfile=")):
        try:
            with open(os.path.expanduser(path)) as f:
                if flag in (line.strip() for line in f):
                    return f" (in --flagfile={path})"
        except (OSError, UnicodeDecodeError):
            continue
    return ""


def _exit_on_config_error(function):
    """Runs ``function``; a ``ConfigError`` prints one line and exits with status 2."""
    try:
        return function()
    except ConfigError as error:
        _fail(error)


def config_from_flags(flag_values=flags.FLAGS):
    """A validated ``TrainConfig``; on a bad value, prints it and exits with status 2."""
    names = [field.name for field in dataclasses.fields(TrainConfig)]
    given = with_the_runs_settings(  # a continued run keeps its own for those left out
        {name: flag_values[name].value for name in names if flag_values[name].present})
    config = _exit_on_config_error(lambda: TrainConfig(**{
        name: given[name] if name in given else flag_values[name].value for name in names}))
    _warn_of_settings_the_mode_ignores(flag_values)
    return config


# What the modes other than train read besides --output_dir: the run's settings do the rest.
MODE_SETTINGS = {"generate": ("num_images", "seed", "interpolate"), "export": (),
                 "evaluate": ("num_samples", "data_dir", "dataset", "tfds_data_dir",
                              "backbone", "backbone_weights", "seed")}


# The modes' own options, which are no run settings.
MODE_OPTIONS = ("num_images", "interpolate", "num_samples", "backbone", "backbone_weights")


def _warn_of_settings_the_mode_ignores(flag_values):
    mode = flag_values["mode"].value
    for name, other in OTHER_MODES_SETTINGS.items():
        if mode == "train" and flag_values[name].present:
            print(f"warning: --{name} is for --mode={other}, not training; ignored",
                  file=sys.stderr)
    used = ("mode", "output_dir", *MODE_SETTINGS.get(mode, ()))
    ignored = [f"--{field.name}" for field in dataclasses.fields(TrainConfig)
               if flag_values[field.name].present and field.name not in used]
    if mode in MODE_SETTINGS and ignored:
        options = {f"--{name}" for name in MODE_OPTIONS}
        why = "" if set(ignored) <= options else " (the run's own settings apply)"
        print(f"warning: --mode={mode} does not use {', '.join(ignored)}{why}; ignored",
              file=sys.stderr)


class _QuietLibraries(logging.Filter):
    """Drops routine INFO of the libraries in ``_QUIET_LOGGERS`` (not in --logger_levels).

    A handler filter, since TensorFlow resets absl's logger level while it saves."""

    def __init__(self):
        super().__init__()
        levels = flags.FLAGS["logger_levels"].value if "logger_levels" in flags.FLAGS else None
        self.quiet = tuple(name for name in _QUIET_LOGGERS if name not in (levels or {}))

    def filter(self, record):
        return (record.levelno >= logging.WARNING
                or record.name.split(".")[0] not in self.quiet)


def set_up_log_handlers():
    """The library's log lines without TensorFlow's and absl's routine INFO, and never
    glued to a progress bar (for every command-line tool of the project)."""
    quiet = _QuietLibraries()
    for name in quiet.quiet:  # TensorFlow's logger has a handler of its own
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        for cls in (_QuietLibraries, progress.EndProgressLine):
            if not any(isinstance(f, cls) for f in handler.filters):
                handler.addFilter(cls())


def run(config, prog="anime-gan"):
    """``commands.run(config)`` with the command line's exit statuses; a finished
    training run closes with a summary on stdout."""
    set_up_log_handlers()
    try:
        with progress.surviving_a_closed_stdout():
            result = _exit_on_config_error(lambda: commands.run(config))
            if config.mode == "train":
                worker = devices.worker_name(result.distribute_strategy)
                print("\n".join(commands.train_summary(config, prog, worker)), flush=True)
    except TrainingFault as fault:
        progress.end_line()
        print(f"error: {fault}", file=sys.stderr)
        sys.exit(1)
    except Terminated as terminated:
        sys.exit(terminated.exit_status)  # 128 + the signal, as a shell reports it
    except KeyboardInterrupt:
        sys.exit(130)
    return result


def _unexpected_arguments(arguments):
    """The one-line error for words that are not flags (``anime-gan generate``)."""
    hints = [f"--mode={word}" for word in arguments if word in MODES]
    hints += [f"--model={word}" for word in arguments if word in MODELS]
    hint = f" (did you mean {' '.join(hints)}?)" if hints else "; flags take the form --name=value"
    return f"unexpected argument{'s' if len(arguments) > 1 else ''}: {' '.join(arguments)}{hint}"


def _main(argv):
    if len(argv) > 1:
        _fail(_unexpected_arguments(argv[1:]))
    run(config_from_flags(), prog_name(argv[0]))


def main(argv=None):
    """The ``anime-gan`` command (also ``python main.py`` and ``python -m anime_gan``)."""
    # A shell starts background jobs with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: restore it, so Ctrl-C (or kill -INT) always stops
    # training with a checkpoint and exit status 130.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if "model" not in flags.FLAGS:
        define_flags()
    app.run(_main, argv=argv, flags_parser=parse_flags)

"""``--help``: the project's flags by group, with their defaults, and the exit statuses."""

import dataclasses
import os
import shutil
import sys
import textwrap

from anime_gan.config import TrainConfig

# The --help groups, in the order they are listed.  A field missing here is listed as "other".
GROUPS = {
    "training": ["experiment", "epochs", "batch_size", "steps_per_epoch", "seed",
                 "optimizer", "g_lr", "g_beta1", "g_beta2", "d_lr", "d_beta1", "d_beta2",
                 "n_critic", "gp_weight", "clip_value", "diffaugment", "ema_decay",
                 "mixed_precision", "jit_compile", "strategy", "eval_every", "eval_samples"],
    "model": ["model", "image_size", "latent_dim", "upsampling"],
    "data": ["data_dir", "dataset", "tfds_data_dir", "cache_dir", "max_image_pixels"],
    "output": ["output_dir", "resume", "checkpoint_every"],
    "modes": ["mode", "num_images", "interpolate", "num_samples", "backbone",
              "backbone_weights"],
}


def _flag_line(flag):
    if flag.boolean:
        return f"--[no]{flag.name}", "true" if flag.default else "false"
    default = "" if flag.default is None else flag.default
    return f"--{flag.name}", "none" if default == "" else str(default)


def help_text(flag_values, prog="anime-gan", width=None):
    """``--help``: the project's flags by group, with their defaults."""
    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    ours = [field.name for field in dataclasses.fields(TrainConfig)] + ["experiment"]
    by_group = {group: [name for name in names if name in ours]
                for group, names in GROUPS.items()}
    grouped = {name for names in GROUPS.values() for name in names}
    by_group["other"] = [name for name in ours if name not in grouped]
    lines = [f"usage: {prog} [--flag=value ...]", "",
             "Train a GAN (DCGAN, WGAN-GP, WGAN, SNGAN) on anime faces into a run folder, "
             "or use a trained run.",
             "",
             f"  {prog} --epochs=5 --output_dir=runs/quickstart",
             f"  {prog} --experiment=wgan_gp_64 --data_dir=~/data/anime-faces",
             f"  {prog} --mode=generate --output_dir=runs/quickstart --interpolate"]
    indent = 26
    for group, names in by_group.items():
        if not names:
            continue
        lines += ["", f"{group}:"]
        for name in names:
            flag = flag_values[name]
            label, default = _flag_line(flag)
            text = flag.help
            if flag.default is not None or "default" not in flag.help.lower():
                text += f" (default: {default})"
            wrapped = textwrap.wrap(text, max(30, width - indent))
            first = f"  {label}".ljust(indent)
            if len(first) > indent:  # a long flag name: its help starts on the next line
                lines.append(first.rstrip())
                first = " " * indent
            lines.append(first + wrapped[0])
            lines += [" " * indent + rest for rest in wrapped[1:]]
    lines += ["", "--helpfull lists every flag, absl's and TensorFlow's too; --version prints "
              "the version. Exit status: 0 done, 1 training fault, 2 bad flag or data, 130 "
              "stopped by Ctrl-C, 143 stopped by SIGTERM, 129 stopped by SIGHUP (each saves a "
              "checkpoint: run the same command to resume)."]
    return "\n".join(textwrap.fill(line, width) if line.startswith("--helpfull") else line
                     for line in lines) + "\n"


def print_and_exit(text):
    """Help text on stdout, exit status 0, also when the reader stops early (``| head``)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error
    sys.exit(0)

"""Our training speed against the seed projects' PyTorch GANs, measured side by side:
``python -m anime_gan.benchmark --against-peer --peer_dir=../shared/peers [flags]``.

Each round runs, one after the other, the PyTorch DCGAN, our DCGAN in each
precision, the PyTorch WGAN-GP and our WGAN-GP in each precision, every one in a
fresh process.  Ours is ``anime_gan.train()`` as a user runs it (the defaults, so
EMA and the model's DiffAugment policy, the real input pipeline over
``--data_dir``); with ``--plain`` each is also timed without EMA and DiffAugment
(their cost is a few percent, below what separate processes on a shared machine can
resolve: ``step_profile`` measures it, alternating the two steps in one process).
A figure is real images per second over the median step.  Ratios are taken within
a round, and the median over rounds is reported: a shared machine is noisy, and
only side-by-side ratios compare across machines.  The machine's ceilings
(``step_profile.ceilings``) are printed beside them.
"""

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from anime_gan import measure

PEERS = {"dcgan": ("torch_dcgan.py", ["--steps", "15", "--warmup", "3", "--channels-last"]),
         "wgan": ("torch_wgangp.py", ["--steps", "4", "--warmup", "2"])}
OUR_STEPS = {"dcgan": (3, 15), "wgan": (2, 4)}  # (warm-up, timed) generator steps


class PeerError(RuntimeError):
    """A peer could not be run; the message says how to set it up."""


def time_peer(model, peer_dir, python, batch_size=64, threads=2):
    """Real images per second of the PyTorch peer of ``model``, over its median step."""
    script, extra = PEERS[model]
    command = [python, script, "--batch", str(batch_size), "--threads", str(threads), *extra]
    try:
        done = subprocess.run(command, cwd=peer_dir, capture_output=True, text=True)
    except OSError as error:
        raise PeerError(f"cannot run {python}: {error}") from None
    median = re.search(r"median step ([0-9.]+) ms", done.stdout)
    if done.returncode or not median:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PeerError(f"{script} failed ({last}); the peers need PyTorch: "
                        f"python3 -m venv /tmp/peer && /tmp/peer/bin/pip install torch numpy, "
                        f"then --peer_python=/tmp/peer/bin/python")
    images_per_step = batch_size * (5 if model == "wgan" else 1)
    return images_per_step / (float(median.group(1)) / 1000)


def time_ours(model, precision, data_dir, plain=False, batch_size=64):
    """Real images per second of ``anime_gan.train()`` over its median step (meant for a
    fresh process)."""
    from anime_gan.training import train

    warmup, steps = OUR_STEPS[model]
    timer = measure.StepTimer(warmup)
    extras = dict(ema_decay=0.0, diffaugment="") if plain else {}
    logging.getLogger().setLevel(logging.WARNING)
    # The run's progress bar and file messages would bury the benchmark's own lines.
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        gan = train(model=model, mixed_precision=precision, data_dir=data_dir,
                    batch_size=batch_size, epochs=1, steps_per_epoch=warmup + steps,
                    output_dir=os.path.join(folder, "run"), callbacks=[timer], live=False,
                    **extras)
    return batch_size * gan.real_batches_per_step / timer.seconds_per_step()


def ceilings():
    from anime_gan.step_profile import ceilings as measure

    return measure()


def run_round(models, precisions, peer_dir, python, data_dir, plain):
    """{name: images/s} of one round: each model's peer, then ours in each precision."""
    figures = {}
    for model in models:
        figures[f"torch {model}"] = time_peer(model, peer_dir, python)
        for precision in precisions:
            for plain_run in ((False, True) if plain else (False,)):
                name = f"{model} {precision}{' plain' if plain_run else ''}"
                figures[name] = measure.in_fresh_process(
                    time_ours, model=model, precision=precision, data_dir=data_dir,
                    plain=plain_run)
                print(f"  {name}: {figures[name]:.1f} images/s "
                      f"({figures[name] / figures[f'torch {model}']:.2f}x)", flush=True)
    return figures


def summary(rounds):
    """Median over rounds of each figure and of its ratio to its peer in the same round."""
    lines = [f"{'':<24} {'images/s':>9} {'x peer':>7}   (median of {len(rounds)} rounds; "
             "x peer: ratio within each round)"]
    for name in rounds[0]:
        peer = f"torch {name.split()[0]}" if not name.startswith("torch") else name
        ratio = np.median([r[name] / r[peer] for r in rounds])
        lines.append(f"{name:<24} {np.median([r[name] for r in rounds]):>9.1f} {ratio:>7.2f}")
    return "\n".join(lines)


def main(FLAGS):
    if not FLAGS.peer_dir or not os.path.isdir(FLAGS.peer_dir):
        sys.exit(f"--peer_dir={FLAGS.peer_dir}: no such folder; it holds the PyTorch peers "
                 "(../shared/peers beside the project)")
    print("CPU:", measure.cpu_name(), f"({os.cpu_count()} cores)")
    for name, rate in measure.in_fresh_process(ceilings).items():
        print(f"ceiling: {name}: {rate:.0f} GFLOP/s")
    rounds = []
    for number in range(FLAGS.rounds):
        print(f"round {number + 1} of {FLAGS.rounds}", flush=True)
        try:
            rounds.append(run_round(FLAGS.models, FLAGS.precisions, FLAGS.peer_dir,
                                    FLAGS.peer_python, FLAGS.data_dir, FLAGS.plain))
        except PeerError as error:
            sys.exit(str(error))
    print(summary(rounds))
    with open(FLAGS.output_json, "w") as f:
        json.dump({"cpu": measure.cpu_name(), "cores": os.cpu_count(), "rounds": rounds}, f,
                  indent=2)
    print(f"Full figures: {FLAGS.output_json}")

"""Which TensorFlow operations a training step runs, and for how long: a profiler trace of a
few steps of a model with its defaults, summed by operation type.  It shows whether a step
computes anything its algorithm does not need (every convolution is listed by name), and
how busy the worker threads are.

    pip install tensorboard-plugin-profile   # reads the trace (xprof); not a dependency
    python docs/speed/step_trace.py --model=dcgan --precision=float32

Times are summed over TensorFlow's threads (operations overlap), so the shares, not the
milliseconds, compare with a step's time.
"""

import argparse
import collections
import glob
import importlib.util
import json
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from anime_gan.config import TrainConfig
from anime_gan.gan_builder import build_gan
from weight_gradient_step import synced_step

CONVOLUTIONS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


def trace_steps(model, precision, steps, log_dir):
    """Runs ``steps`` traced training steps (after 3 untraced ones) into ``log_dir``."""
    config = TrainConfig(model=model, batch_size=64, mixed_precision=precision,
                         output_dir="unused")
    keras.utils.set_random_seed(0)
    step = synced_step(build_gan(config))
    for _ in range(3):
        step()
    tf.profiler.experimental.start(log_dir)
    for _ in range(steps):
        step()
    tf.profiler.experimental.stop()


def tool_data(log_dir, tool):
    from xprof.convert import raw_to_tool_data

    planes = glob.glob(f"{log_dir}/plugins/profile/*/*.xplane.pb")
    options = {"tqx": "", "use_saved_result": False}
    data, _ = raw_to_tool_data.xspace_to_tool_data(planes, tool, options)
    return json.loads(data)


def operation_rows(log_dir):
    """One dict per operation: type, name, occurrences, total self time (us)."""
    table = tool_data(log_dir, "framework_op_stats")[0]
    columns = [column["id"] for column in table["cols"]]
    return [dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]]))
            for row in table["rows"]]


def worker_busy_fractions(log_dir):
    """(the median traced step in ms, {thread of TensorFlow's intra-op pool: the median
    fraction of a step it spends inside an event}), at 0.1 ms resolution."""
    events = tool_data(log_dir, "trace_viewer")["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    spans = [e for e in events if e.get("ph") == "X"]
    # Each traced step is one call of its tf.function from Python.
    steps = sorted((e for e in spans if names.get((e["pid"], e["tid"])) == "python"
                    and e["name"].startswith("EagerLocalExecute")), key=lambda e: e["ts"])
    fractions = collections.defaultdict(list)
    for step in steps:
        start, length = step["ts"], step["dur"]
        for thread, name in names.items():
            if "Eigen" not in name:
                continue
            busy = np.zeros(int(length / 100) + 1, bool)
            for e in spans:
                if (e["pid"], e["tid"]) == thread and start <= e["ts"] <= start + length:
                    first, last = ((t - start) / 100 for t in (e["ts"], e["ts"] + e["dur"]))
                    busy[int(first):int(last) + 1] = True
            fractions[name].append(busy.mean())
    step_ms = float(np.median([step["dur"] for step in steps])) / 1000
    return step_ms, {name: float(np.median(values)) for name, values in fractions.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("xprof") is None:
        sys.exit("Reading the trace needs xprof: pip install tensorboard-plugin-profile")
    with tempfile.TemporaryDirectory() as log_dir:
        trace_steps(args.model, args.precision, args.steps, log_dir)
        rows = operation_rows(log_dir)
        step_ms, busy = worker_busy_fractions(log_dir)

    rows = [r for r in rows if r["type"] != "IDLE"]
    total = sum(r["total_self_time"] for r in rows)
    by_type = collections.Counter()
    for r in rows:
        by_type[r["type"].removeprefix("_MklNative").removeprefix("_Mkl")] += r["total_self_time"]
    per_step = 1000.0 * args.steps
    print(f"{args.model} {args.precision}: median traced step {step_ms:.0f} ms; the "
          f"operations' self time {total / per_step:.0f} ms a step, summed over threads")
    print("intra-op threads busy (median step): "
          + ", ".join(f"{100 * f:.0f}%" for f in busy.values()))
    print(f"{'operation type':34s} {'ms/step':>8s} {'share':>6s}")
    for kind, time in by_type.most_common(25):
        print(f"{kind:34s} {time / per_step:8.1f} {100 * time / total:5.1f}%")
    print("\nconvolutions, by name (ms a step):")
    for r in sorted(rows, key=lambda r: r["operation"]):
        if r["type"].removeprefix("_MklNative") in CONVOLUTIONS:
            print(f"  {r['operation'][:78]:78s} {r['total_self_time'] / per_step:7.1f} ms")


if __name__ == "__main__":
    main()

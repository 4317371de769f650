"""What the speed tools share: a step timer, medians of interleaved calls, fresh
processes, FLOP counts of the networks, the CPU's name and peak memory."""

import concurrent.futures
import math
import multiprocessing
import platform
import resource
import time

import keras
import numpy as np


def cpu_name():
    """The processor's model name (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mb():
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def forward_flops(network):
    """Floating-point operations (2 per multiply-add) of one image through the network's
    convolutions; batch norm and activations add well under 1%."""
    return sum(layer_flops(layer) for layer in network.layers)


def layer_flops(layer):
    """FLOPs of one image through a (transposed, or wrapped) convolution; 0 for others."""
    # A wrapped convolution (spectral normalisation) costs what the convolution does.
    conv = layer.layer if isinstance(layer, keras.layers.Wrapper) else layer
    if isinstance(conv, keras.layers.Conv2DTranspose):  # each input pixel: K x K x C_out
        positions, c_in = math.prod(layer.input.shape[1:3]), layer.input.shape[-1]
    elif isinstance(conv, keras.layers.Conv2D):  # each output pixel: K x K x C_in
        positions, c_in = math.prod(layer.output.shape[1:3]), layer.input.shape[-1]
    else:
        return 0
    return 2 * positions * math.prod(conv.kernel_size) * c_in * conv.filters


def median_times(functions, rounds):
    """{name: median seconds} of calling each function once per round, interleaved, so a
    slow spell of a shared machine touches every piece alike."""
    return {name: float(np.median(values))
            for name, values in interleaved_times(functions, rounds).items()}


def interleaved_times(functions, rounds):
    """{name: [seconds of each round]}: each function called once per round, in turn,
    after two untimed calls each (tracing, warm-up)."""
    for function in functions.values():
        function()
        function()
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    return times


class StepTimer(keras.callbacks.Callback):
    """Times each step after the warm-up; the median step resists a passing disturbance."""

    def __init__(self, warmup_steps):
        super().__init__()
        self.warmup_steps = warmup_steps
        self.steps = 0
        self.durations = []
        self.last = None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        now = time.perf_counter()
        if self.steps > self.warmup_steps:
            self.durations.append(now - self.last)
        self.last = now

    def seconds_per_step(self):
        return float(np.median(self.durations))


def in_fresh_process(function, **kwargs):
    """``function(**kwargs)`` in a new process: its own peak memory, no leftover graphs."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, **kwargs).result()

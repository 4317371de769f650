"""How a training step runs on the hardware: tf.distribute strategies, each replica's
share of the batch and of the gradient, and mixed precision with loss scaling.

This is the one TensorFlow-specific place for distribution and precision; the GAN
models call ``replica_share``, ``apply_gradients`` and ``step_outputs`` and read
like their papers' algorithms.  A run's ``--batch_size`` is the global batch: the
strategy splits each batch between its replicas, and every loss is the mean over
the global batch.
"""

import contextlib
import json
import logging
import os

import keras
import tensorflow as tf
from keras import ops

from anime_gan.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
PRECISIONS = ("float32", "bfloat16", "float16")

logger = logging.getLogger(__name__)


# --- Strategies and workers ----------------------------------------------------

def make_strategy(name="default"):
    """The ``tf.distribute.Strategy`` called ``name``.

    ``mirrored``: every local GPU (or the CPU).  ``multiworker``: the cluster
    described by ``TF_CONFIG``.  ``tpu``: the TPU found by ``TPUClusterResolver``.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        devices = strategy.extended.worker_devices
        logger.info("--strategy=mirrored: %d replica(s), on %s%s", len(devices),
                    ", ".join(devices), "" if len(devices) > 1 else
                    " (one device: no faster than --strategy=default)")
        return strategy
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("--strategy=multiworker: set TF_CONFIG to describe the cluster "
                              "and this worker (see the README)")
        try:
            tf_config = json.loads(os.environ["TF_CONFIG"])
            if not isinstance(tf_config, dict):
                raise ValueError("not a JSON object")
            return tf.distribute.MultiWorkerMirroredStrategy()
        except ValueError as error:  # bad JSON, or a task that is not in the cluster
            raise ConfigError(f"--strategy=multiworker: TF_CONFIG does not describe a cluster "
                              f"and this worker in it ({error})") from None
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            raise ConfigError(f"--strategy=tpu: no TPU found ({error})") from None
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"--strategy={name}: must be one of {', '.join(STRATEGIES)}")


def is_chief(strategy):
    """Whether this process writes the run: always, except on a non-chief multi-worker task."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    # As TensorFlow documents: the "chief" task, or worker 0 in a cluster without one.
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster)


def worker_name(strategy):
    """None on the process that writes the run; ``worker_1`` (task type and index) on
    another task of a multi-worker run."""
    if is_chief(strategy):
        return None
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type}_{resolver.task_id}"


def worker_output_dir(output_dir, strategy):
    """Where this process writes: ``output_dir`` on the chief, a scratch folder elsewhere.

    Every multi-worker task must run the same saves (checkpointing is a
    collective operation), but only the chief's files are the run's.
    """
    name = worker_name(strategy)
    return output_dir if name is None else os.path.join(output_dir, "workers", name)


# --- Inside a replicated step ----------------------------------------------------

def replica_position():
    """(replicas in sync, this replica's index); (1, 0) outside a replicated step."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def replica_share(sample, batch_size):
    """This replica's ``batch_size`` rows of ``sample(global batch size)``.

    Every replica draws the global batch from the same seed state and keeps its
    own slice, so a step uses the same random numbers on any number of replicas
    (and replicas do not all draw the same latents).
    """
    replicas, index = replica_position()
    start = index * batch_size
    return sample(batch_size * replicas)[start:start + batch_size]


def apply_gradients(optimizer, tape, loss, variables):
    """One optimizer step on ``loss``, the mean over this replica's share of the batch.

    The optimizer sums the replicas' gradients, so each replica's gradient is
    weighted by 1 / replicas: the sum is then the gradient of the mean over the
    global batch.  ``scale_loss`` multiplies in the float16 loss scale (the
    optimizer unscales before applying); both weights enter as the tape's
    output gradient, which equals differentiating ``weight * loss``.
    """
    replicas, _ = replica_position()
    weight = optimizer.scale_loss(ops.cast(1.0 / replicas, "float32"))
    gradients = tape.gradient(loss, variables, output_gradients=ops.cast(weight, loss.dtype))
    with after(loss):  # the iteration count too
        optimizer.apply_gradients(zip(gradients, variables))


def after(tensor):
    """The operations made inside run once ``tensor`` is computed, and so only if the
    step's checks it depends on (``checked``) pass; otherwise a stateful operation that
    reads no checked value (a counter) may run before the check stops the step.  None:
    no dependency."""
    return tf.control_dependencies([] if tensor is None else [tensor])


def moving_average_update(averages, values):
    """A function of ``decay`` that sets average <- decay * average + (1 - decay) * value
    for each pair of variables.

    Compiled with XLA, each pair is one fused pass (read both, write one) instead of
    four: half the time for the generator's 3.8M weights.  Under a distribution
    strategy the averages are mirrored variables, updated by plain operations."""
    averages, values = list(averages), list(values)

    def update(decay):
        for average, value in zip(averages, values):
            average.assign(decay * average + (1.0 - decay) * ops.cast(value, average.dtype))

    return update if tf.distribute.has_strategy() else tf.function(update, jit_compile=True)


def step_outputs(results):
    """A step's metric results, shaped as the current strategy's fit loop needs them."""
    strategy = tf.distribute.get_strategy()
    multi_worker = (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                    and strategy.extended._in_multi_worker_mode())
    if multi_worker:
        # Keras 3 averages multi-worker step outputs over their axis 0, which fails on
        # scalars (tensorflow/tensorflow#72388): give them that axis.
        return {name: ops.reshape(value, (1,)) for name, value in results.items()}
    return results


# --- Checks inside a step -------------------------------------------------------------

_CHECK = "anime-gan check: "


def checked(tensor, condition, message, value):
    """``tensor``, once ``condition`` holds: else the step stops, before any update that
    depends on ``tensor``, with ``message`` ending in ``value`` (``reported_checks``
    turns that into a ValueError).  Under XLA the check is skipped."""
    check = tf.debugging.Assert(condition, [_CHECK + message, value], summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def checked_shape(tensor, expected, message, after="", xla=False):
    """``tensor``, refused unless its shape matches ``expected`` (None: any size), with
    that static shape.  The refusal reads ``message``, the shape, then ``after``.  A
    shape known when the step is traced is checked then (a ValueError); what tracing left
    unknown (Keras traces again, with looser shapes, for a batch shaped unlike the last)
    is checked in the step, as ``checked`` does, except under XLA (``xla``), which takes
    no text operations: there TensorFlow's shape check stops the step."""
    shape, expected = tensor.shape, tf.TensorShape(expected)
    if shape.rank is not None and not shape.is_compatible_with(expected):
        raise ValueError(f"{message} {tuple(shape)}{after}")
    if xla or shape.rank is not None and all(
            size is not None for size, wanted in zip(shape, expected) if wanted is not None):
        return tf.ensure_shape(tensor, expected)
    sizes = tf.shape(tensor)
    same_rank = tf.equal(tf.size(sizes), expected.rank)

    def same_sizes():
        return tf.reduce_all(tf.stack([True] + [tf.equal(sizes[axis], size)
                                                for axis, size in enumerate(expected.as_list())
                                                if size is not None]))

    condition = tf.cond(same_rank, same_sizes, lambda: tf.constant(False))
    shown = tf.strings.join(["(", tf.strings.reduce_join(tf.strings.as_string(sizes),
                                                         separator=", "), ")" + after])
    return tf.ensure_shape(checked(tensor, condition, message, shown), expected)


def is_dataset(data):
    return isinstance(data, tf.data.Dataset)


def batch_shapes(data):
    """What a step traced for ``data`` assumes of its batches (shapes after the batch
    axis, dtypes), or None when it cannot be told without reading the data."""
    if is_dataset(data):
        return repr(data.element_spec)
    shape, dtype = getattr(data, "shape", None), getattr(data, "dtype", None)
    return None if shape is None else (tuple(shape)[1:], str(dtype))


@contextlib.contextmanager
def reported_checks():
    """A ``checked`` that failed, as a one-line ValueError instead of TensorFlow's
    InvalidArgumentError and graph traceback."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        text = str(error)
        if _CHECK not in text:
            raise
        first, _, rest = text[text.index(_CHECK) + len(_CHECK):].partition("\n")
        if first.endswith("'"):  # run eagerly: "b'message'" and the value on the next line
            raise ValueError(f"{first[:-1]} {rest.strip().splitlines()[0]}") from None
        message, _, value = first.partition("] [")  # "message] [value]"
        raise ValueError(f"{message} {value.removesuffix(']')}") from None


# --- Precision ---------------------------------------------------------------------

@contextlib.contextmanager
def precision(name="float32", warn=True):
    """Networks built inside compute in ``name`` (float32, bfloat16 or float16).

    The lower precisions are Keras mixed policies: float32 weights, lower-precision
    arithmetic, and float32 outputs (the generator's tanh, the scores).  ``warn``: of
    float16 training on a CPU.
    """
    policy = "float32" if name == "float32" else f"mixed_{name}"
    if warn and name == "float16" and not tf.config.list_physical_devices("GPU"):
        logger.warning(
            "--mixed_precision=float16 without a GPU: TensorFlow's CPU kernel for a "
            "convolution's float16 weight gradient is hundreds of times slower than the "
            "float32 one (11 s against 15 ms for the discriminator's 128->256 layer on a "
            "2-core Xeon); on a CPU use bfloat16, or float32")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def optimizer_for(precision_name, optimizer):
    """``optimizer``, with dynamic loss scaling for float16, whose small gradients
    underflow without it (bfloat16 has float32's range and needs none)."""
    if precision_name == "float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer

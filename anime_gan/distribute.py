"""tf.distribute strategies: --strategy=default|mirrored|multiworker|tpu (TensorFlow only).

A run's ``--batch_size`` is the global batch: the strategy splits each batch
between its replicas, and every loss is the mean over the global batch (see
``GAN._update``).
"""

import json
import os

import tensorflow as tf

from anime_gan.config import STRATEGIES, ConfigError


def make_strategy(name="default"):
    """The ``tf.distribute.Strategy`` called ``name``.

    ``mirrored``: every local GPU (or the CPU).  ``multiworker``: the cluster
    described by ``TF_CONFIG``.  ``tpu``: the TPU found by ``TPUClusterResolver``.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("--strategy=multiworker: set TF_CONFIG to describe the cluster "
                              "and this worker (see the README)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            raise ConfigError(f"--strategy=tpu: no TPU found ({error})") from None
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"--strategy={name}: must be one of {', '.join(STRATEGIES)}")


def replica_position():
    """(replicas in sync, this replica's index); (1, 0) outside a replicated step."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def in_multi_worker_step():
    """Whether the current step runs on several workers (the check Keras' own reduction uses)."""
    strategy = tf.distribute.get_strategy()
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def is_chief(strategy):
    """Whether this process writes the run: always, except on a non-chief multi-worker task."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    # As TensorFlow documents: the "chief" task, or worker 0 in a cluster without one.
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster)


def worker_output_dir(output_dir, strategy):
    """Where this process writes: ``output_dir`` on the chief, a scratch folder elsewhere.

    Every multi-worker task must run the same saves (checkpointing is a
    collective operation), but only the chief's files are the run's.
    """
    if is_chief(strategy):
        return output_dir
    resolver = strategy.cluster_resolver
    return os.path.join(output_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")

"""tf.distribute: a mirrored step equals a single-device step, and multi-worker runs."""

import json
import logging
import os
import socket
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

from anime_gan import TrainConfig, build_gan, devices
from anime_gan.errors import ConfigError
from conftest import REPO_ROOT, run_python

# Tolerances on the weights after one step, measured differences 5e-7 (critic) and
# 1.4e-5 (DCGAN): float sums in a different order.  Adam's first step moves every
# weight by about its learning rate (1e-4 for the critic), so the critic bound is
# 5% of one step.
CRITIC_TOLERANCE = 5e-6
DCGAN_TOLERANCE = 1e-4


def distributed_step(model, precision="float32"):
    result = run_python([os.path.join(REPO_ROOT, "tests", "distributed_step.py"), model,
                         precision])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_critic_step_matches_single_device_step():
    report = distributed_step("wgan")
    assert report["replicas"] == 2
    critic = report["discriminator"]
    assert critic["largest_update"] > 5e-5  # the step did move the weights
    assert critic["largest_difference"] < CRITIC_TOLERANCE
    for name in ("d_loss", "wasserstein", "gradient_penalty"):
        assert report["mirrored_logs"][name] == pytest.approx(report["single_logs"][name],
                                                              rel=1e-4, abs=1e-6)


@pytest.mark.slow
def test_mirrored_dcgan_step_matches_with_synchronized_batch_norm():
    report = distributed_step("dcgan")
    for network in ("generator", "discriminator"):
        assert report[network]["largest_update"] > 1e-3
        assert report[network]["largest_difference"] < DCGAN_TOLERANCE


@pytest.mark.slow
def test_mirrored_bfloat16_dcgan_step_uses_the_patches_on_each_replica_and_matches():
    report = distributed_step("dcgan", "bfloat16")
    # Each replica's half batch (4) through the generator's up1 and, three times a step
    # (real, fake, fake again for G), the discriminator's down4.
    built = sorted(tuple(shape) for _, shape in report["mirrored_patches_built"])
    assert set(built) == {(4, 4, 4, 512), (4, 8, 8, 256)}
    assert built.count((4, 8, 8, 256)) == 3 * built.count((4, 4, 4, 512))
    for network in ("generator", "discriminator"):
        assert report[network]["largest_update"] > 1e-3
        assert report[network]["largest_difference"] < 5e-3  # bfloat16 rounding
    for name, value in report["single_logs"].items():
        assert report["mirrored_logs"][name] == pytest.approx(value, rel=1e-2)


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_worker_run_on_localhost_trains_and_checkpoints(tmp_path):
    workers = [f"localhost:{free_port()}" for _ in range(2)]
    out = tmp_path / "run"
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(tf_config))
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(REPO_ROOT, "main.py"), "--strategy=multiworker",
             "--model=wgan", "--n_critic=1", "--batch_size=8", "--latent_dim=16",
             "--epochs=2", "--steps_per_epoch=2", "--checkpoint_every=1", f"--output_dir={out}"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=600)[0] for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-3000:]

    # The chief (worker 0) wrote the run; worker 1 its scratch copy.
    with open(out / "history.csv") as f:
        assert len(f.read().strip().splitlines()) == 3  # header + 2 epochs
    assert (out / "checkpoints" / "checkpoint").is_file()
    assert "ckpt-4.index" in os.listdir(out / "checkpoints")  # steps 1 and 3, 2 epoch ends
    assert (out / "export" / "saved_model.pb").is_file()
    assert (out / "workers" / "worker_1" / "checkpoints" / "checkpoint").is_file()
    # Each closes with its own summary: the chief's names the run's files, worker 1's
    # only where the run is.
    assert f"Done: 2 epoch(s) of wgan in {out}" in outputs[0]
    assert f"Done: worker_1's share of the multi-worker run; the chief writes the run to {out}" \
        in outputs[1]
    assert "samples" not in outputs[1][outputs[1].index("Done: "):]


def test_multiworker_without_tf_config_is_a_config_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="--strategy=multiworker: set TF_CONFIG"):
        devices.make_strategy("multiworker")


@pytest.mark.parametrize("tf_config", ["{bad", "[1, 2]"])
def test_a_tf_config_that_is_not_a_cluster_is_one_line(tf_config, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ConfigError, match="^--strategy=multiworker: TF_CONFIG does not describe"):
        devices.make_strategy("multiworker")


def test_batch_must_split_evenly_between_replicas():
    class TwoReplicas:
        num_replicas_in_sync = 2

    config = TrainConfig(batch_size=7, strategy="mirrored", output_dir="unused")
    with pytest.raises(ConfigError, match="--batch_size=7: must divide evenly between the 2"):
        build_gan(config, TwoReplicas())


def test_default_strategy_is_one_replica_and_always_chief():
    strategy = devices.make_strategy("default")
    assert strategy.num_replicas_in_sync == 1
    assert devices.replica_position() == (1, 0)
    assert devices.is_chief(strategy)
    assert devices.worker_output_dir("runs/x", strategy) == "runs/x"
    assert devices.worker_name(strategy) is None


@pytest.mark.slow
@pytest.mark.parametrize("model", ["wgan_clip", "sngan"])
def test_mirrored_variant_step_matches_single_device_step(model):
    report = distributed_step(model)
    assert report["replicas"] == 2
    assert report["discriminator"]["largest_update"] > 5e-5
    assert report["discriminator"]["largest_difference"] < CRITIC_TOLERANCE
    for name, value in report["single_logs"].items():
        assert report["mirrored_logs"][name] == pytest.approx(value, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("name, gpus, warned", [("float16", [], True),
                                                ("float16", ["GPU:0"], False),
                                                ("bfloat16", [], False),
                                                ("float32", [], False)])
def test_float16_without_a_gpu_warns_that_it_is_slow(name, gpus, warned, monkeypatch, caplog):
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else [])
    with caplog.at_level(logging.WARNING, logger="anime_gan.devices"):
        with devices.precision(name):
            assert keras.config.dtype_policy().name == (
                "float32" if name == "float32" else f"mixed_{name}")
    assert ("--mixed_precision=float16 without a GPU" in caplog.text) == warned
    assert ("use bfloat16" in caplog.text) == warned


def test_mirrored_says_how_many_replicas_and_where(caplog):
    caplog.set_level(logging.INFO, logger="anime_gan.devices")
    strategy = devices.make_strategy("mirrored")
    devices_used = strategy.extended.worker_devices
    message, = [m for m in caplog.messages if m.startswith("--strategy=mirrored")]
    assert message.startswith(f"--strategy=mirrored: {len(devices_used)} replica(s), on "
                              f"{', '.join(devices_used)}")
    # This machine has one CPU device and no GPU: mirroring gains nothing, and says so.
    assert message.endswith("(one device: no faster than --strategy=default)") == \
        (len(devices_used) == 1)

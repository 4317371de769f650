"""The step profile's bookkeeping (its timings are printed, not asserted)."""

import keras
import pytest

from anime_gan import TrainConfig, measure, step_profile


def test_median_times_interleave_the_pieces_round_by_round():
    calls = []
    times = measure.median_times({"a": lambda: calls.append("a"),
                                  "b": lambda: calls.append("b")}, rounds=3)
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3  # two warm-up calls, then rounds
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_interleaved_times_keep_each_round(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])

    def taking(*seconds):  # a call that takes the next of ``seconds`` (warm-up calls first)
        left = iter(seconds)
        return lambda: clock.__setitem__(0, clock[0] + next(left))
    times = measure.interleaved_times({"a": taking(9, 9, 1, 2, 3), "b": taking(9, 9, 5, 5, 8)},
                                      rounds=3)
    assert times == {"a": [1, 2, 3], "b": [5, 5, 8]}
    assert measure.median_times({"a": taking(9, 9, 1, 7, 3)}, rounds=3) == {"a": 3}


def test_ceilings_are_positive_rates():
    rates = step_profile.ceilings(rounds=1, size=64)
    assert sorted(rates) == sorted(["matmul 64 float32", "matmul 64 bfloat16",
                                    "conv 128->256 fwd+bwd float32",
                                    "conv 128->256 fwd+bwd bfloat16"])
    assert all(rate > 0 for rate in rates.values())


@pytest.mark.slow
def test_profile_times_every_layer_three_ways_with_its_flops():
    keras.utils.set_random_seed(0)
    config = TrainConfig(model="dcgan", batch_size=4, output_dir="unused")
    times, flops, counted = step_profile.profile(config, rounds=1)
    for name in ("generator up1", "discriminator down2", "generator up3_bn"):
        for part in ("forward", "input gradient", "weight gradient"):
            assert f"{name} {part}" in times
    # A convolution's FLOPs: 2 * positions * K*K * C_in * C_out per image, times the batch.
    assert flops["discriminator down2 forward"] == 4 * 2 * 16 * 16 * 16 * 64 * 128
    assert "generator up3_bn forward" not in flops
    assert times["step, plain"] > 0 and counted > 0
    assert {"step, EMA only", "step, DiffAugment only", "step, defaults (EMA + DiffAugment)",
            "moving average update", "ceiling: conv 128->256 fwd+bwd"} <= set(times)

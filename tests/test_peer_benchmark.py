"""The side-by-side benchmark's arithmetic and plumbing (not its timings)."""

import sys

import pytest

from anime_gan import benchmark, peer_benchmark


def fake_peers(folder, median_ms=500.0, fail=False):
    for script in ("torch_dcgan.py", "torch_wgangp.py"):
        body = ("import sys; sys.exit('no module named torch')" if fail else
                f"import sys; assert '--batch' in sys.argv; print('median step {median_ms} ms')")
        (folder / script).write_text(body)
    return str(folder)


def test_peer_figures_are_real_images_per_second_of_the_median_step(tmp_path):
    folder = fake_peers(tmp_path)
    assert peer_benchmark.time_peer("dcgan", folder, sys.executable) == pytest.approx(128.0)
    # A WGAN-GP generator step consumes 5 critic batches.
    assert peer_benchmark.time_peer("wgan", folder, sys.executable) == pytest.approx(640.0)


def test_a_peer_without_pytorch_is_one_clear_error(tmp_path):
    folder = fake_peers(tmp_path, fail=True)
    with pytest.raises(peer_benchmark.PeerError, match="no module named torch.*pip install torch"):
        peer_benchmark.time_peer("dcgan", folder, sys.executable)
    with pytest.raises(peer_benchmark.PeerError, match="cannot run"):
        peer_benchmark.time_peer("dcgan", folder, str(tmp_path / "no-python"))


def test_summary_takes_ratios_within_rounds_then_the_median():
    rounds = [{"torch dcgan": 50.0, "dcgan float32": 75.0, "dcgan float32 plain": 78.0},
              {"torch dcgan": 40.0, "dcgan float32": 56.0, "dcgan float32 plain": 56.0},
              {"torch dcgan": 60.0, "dcgan float32": 96.0, "dcgan float32 plain": 100.8}]
    lines = peer_benchmark.summary(rounds).splitlines()
    # ratios 1.5, 1.4, 1.6 -> 1.5; images/s median 75.
    assert lines[1].split() == ["torch", "dcgan", "50.0", "1.00"]
    assert lines[2].split() == ["dcgan", "float32", "75.0", "1.50"]
    assert lines[3].split() == ["dcgan", "float32", "plain", "78.0", "1.56"]
    assert len(lines) == 4


@pytest.mark.slow
def test_ours_is_timed_inside_train_with_the_defaults(monkeypatch):
    monkeypatch.setitem(peer_benchmark.OUR_STEPS, "dcgan", (1, 2))
    seen = {}
    real_train = peer_benchmark.measure.StepTimer

    class Timer(real_train):
        def on_train_begin(self, logs=None):
            seen["ema"], seen["policy"] = self.model.ema_decay, self.model.diffaugment

    monkeypatch.setattr(peer_benchmark.measure, "StepTimer", Timer)
    rate = peer_benchmark.time_ours("dcgan", "float32", None, batch_size=8)
    assert rate > 0
    assert seen == {"ema": 0.999, "policy": ("color", "translation", "cutout")}


def test_missing_peer_folder_exits_with_one_line(tmp_path):
    class Flags:
        peer_dir = str(tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="no such folder"):
        peer_benchmark.main(Flags)


def test_flags_may_be_spelled_with_hyphens():
    assert benchmark._underscored(["prog", "--against-peer", "--peer_dir=../a-b", "-v"]) == [
        "prog", "--against_peer", "--peer_dir=../a-b", "-v"]

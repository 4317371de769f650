"""One owner per run folder: a second process is refused, a dead holder's lock taken over."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from anime_gan.run_folder.lock import LOCK_FILE, RunInUseError, run_lock
from conftest import REPO_ROOT

HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from anime_gan.run_folder.lock import run_lock
    with run_lock(sys.argv[1]):
        print("holding", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def holder(tmp_path):
    """Starts a process holding the lock of ``folder``; returns it once it holds it."""
    processes = []

    def start(folder):
        process = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=REPO_ROOT),
                                    str(folder)], stdout=subprocess.PIPE, text=True,
                                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        processes.append(process)
        assert process.stdout.readline().strip() == "holding"
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_second_owner_in_this_process_is_refused(tmp_path):
    with run_lock(str(tmp_path / "run")):
        holder = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(RunInUseError, match=f"in use by PID {os.getpid()} on host "
                                                f"{socket.gethostname()}"):
            with run_lock(str(tmp_path / "run")):
                pass
    assert not (tmp_path / "run").exists()  # made for the lock, removed as it stayed empty


def test_a_folder_made_by_another_process_at_the_same_moment_goes_to_the_lock(
        tmp_path, monkeypatch):
    """Two runs started together: the one that did not make the folder meets the lock
    (in use by ...), not 'cannot create the folder (File exists)'."""
    from anime_gan.run_folder import lock

    run = tmp_path / "run"
    run.mkdir()  # made by the other process between our look and our makedirs
    looks = []
    real_isdir = os.path.isdir
    monkeypatch.setattr(lock.os.path, "isdir",
                        lambda path: real_isdir(path) if looks.append(path) or len(looks) > 1
                        else False)
    with run_lock(str(run)):
        assert os.listdir(run) == [LOCK_FILE]
    assert run.is_dir()  # not ours to remove


def test_lock_is_released_and_the_folder_kept_when_written(tmp_path):
    with run_lock(str(tmp_path / "run")):
        (tmp_path / "run" / "config.json").write_text("{}")
    assert os.listdir(tmp_path / "run") == ["config.json"]
    with run_lock(str(tmp_path / "run")):  # free again
        pass


def test_training_into_a_folder_another_process_holds_exits_2_naming_it(
        holder, trained_run, session_data, run_cli):
    process = holder(trained_run)
    before = sorted(os.listdir(trained_run / "checkpoints"))
    training = ("--epochs=3", "--steps_per_epoch=1", "--batch_size=4", "--seed=3",
                f"--data_dir={session_data}")
    for mode in ("train", "generate", "export"):
        result = run_cli(f"--mode={mode}", *(training if mode == "train" else ()),
                         f"--output_dir={trained_run}")
        assert result.returncode == 2, mode
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert f"in use by PID {process.pid} on host {socket.gethostname()}" in lines[0]
    assert sorted(os.listdir(trained_run / "checkpoints")) == before
    assert not (trained_run / "generated").exists()


def test_lock_of_a_killed_process_is_taken_over_with_a_warning(holder, tmp_path, caplog):
    process = holder(tmp_path / "run")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (tmp_path / "run" / LOCK_FILE).exists()  # left behind
    with run_lock(str(tmp_path / "run")):
        pass
    assert f"Taking over the lock of PID {process.pid} on host" in caplog.text
    assert "no longer running" in caplog.text


def test_load_generator_of_a_run_that_has_not_saved_yet_names_the_process_training_it(
        holder, tmp_path):
    from anime_gan import ConfigError, RunFolder, TrainConfig, load_generator

    run = tmp_path / "run"
    RunFolder(str(run)).write_config(TrainConfig(output_dir=str(run)), 0, 0)
    process = holder(run)
    with pytest.raises(ConfigError, match=(
            rf": no generator saved in the run yet; it is training in PID {process.pid} on "
            rf"host {socket.gethostname()}, since .* and saves one at its first checkpoint")):
        load_generator(str(run))
    process.kill()
    process.wait()
    with pytest.raises(ConfigError, match=r": no generator saved in the run \(no readable"):
        load_generator(str(run))

"""Shared fixtures and helpers.

End-to-end tests share one trained run per test run, across pytest-xdist workers too
(``session_main``); a test that changes a run works on its own copy (``trained_run``).
"""

import csv
import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import fcntl
except ImportError:  # Windows: each xdist worker makes its own shared run
    fcntl = None

import numpy as np
import pytest
from PIL import Image

# TensorFlow and the package are imported where they are used (and by the test modules),
# so that pytest-xdist's controller, which runs no test, does not load them.

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The flags of the session's shared run: a two-epoch DCGAN, one step per epoch.
SESSION_RUN_FLAGS = ("--model=dcgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
                     "--seed=3")


def write_image(path, array, **save_kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path


def make_image_folder(root):
    """24 small random RGB images in both Kaggle layouts under ``root``."""
    rng = np.random.default_rng(0)
    for i in range(12):
        size = (int(rng.integers(40, 120)), int(rng.integers(40, 120)))
        write_image(os.path.join(root, "images", f"{i}.jpg"),
                    rng.integers(0, 256, size + (3,), dtype=np.uint8))
        write_image(os.path.join(root, "data", "data", f"{i}.png"),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return str(root)


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 24 small random RGB images in both Kaggle layouts."""
    return make_image_folder(tmp_path / "faces")


# The children's temporary folder, removed when this process's tests end: a child stopped
# by SIGKILL cannot remove its own temporary files (autograph's among them).
CHILDREN_TMP = tempfile.mkdtemp(prefix="anime-gan-test-children-")


def child_env(**overrides):
    """The environment of a child process: this one's, with the package's own default
    ``TF_CPP_MIN_LOG_LEVEL`` (as a user who never set it gets) and ``CHILDREN_TMP`` as
    its temporary folder, then ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "TMPDIR": CHILDREN_TMP, **overrides}


def run_python(args, cwd=REPO_ROOT, env=None, **kwargs):
    """Runs ``python ARGS`` and returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env or child_env(),
                          capture_output=True, text=True, timeout=600, **kwargs)


def pytest_unconfigure(config):
    shutil.rmtree(CHILDREN_TMP, ignore_errors=True)


def pytest_configure(config):
    """In a process that runs tests: imports the package first, as for a user, which
    keeps TensorFlow's start-up lines out of the test output."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        import anime_gan  # noqa: F401


@pytest.hookimpl(trylast=True)  # after the deselection of slow tests
def pytest_collection_modifyitems(items):
    """Under pytest-xdist, puts the ``long`` tests at the start of each worker's block.

    The scheduler (``--dist worksteal``) first gives each of the N workers an equal,
    contiguous block of the collected tests, and a worker that runs out takes over the end
    of another's block.  A long test left near the end would run alone while the other
    workers wait; started first, in turns across the blocks, the long tests leave only
    short ones for the end, which the workers share.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    long_tests = [item for item in items if item.get_closest_marker("long")]
    if workers < 2 or not long_tests:
        return
    others = [item for item in items if not item.get_closest_marker("long")]
    ordered, remaining = [], len(items)
    for block in range(workers):
        size = remaining // (workers - block)  # as the scheduler splits the collection
        firsts = long_tests[block::workers]
        fill = max(size - len(firsts), 0)
        ordered += firsts + others[:fill]
        others = others[fill:]
        remaining -= size
    items[:] = ordered + others


ONE_THREAD = ("import tensorflow as tf\n"
              "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
              "tf.config.threading.set_inter_op_parallelism_threads(1)\n")


def run_on_one_thread(code, *args, env=None):
    """Runs Python ``code`` with ``args`` in a child process whose TensorFlow uses one
    intra-op and one inter-op thread, so that its float sums repeat bit for bit."""
    return run_python(["-c", ONE_THREAD + code, *args], env=env)


def run_main(*flags):
    return run_python([os.path.join(REPO_ROOT, "main.py"), *flags])


def start_main(*flags, stdout=None, **kwargs):
    """Starts main.py in the background; stdout and stderr go to the ``stdout`` file."""
    return subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "main.py"), *flags],
                            cwd=REPO_ROOT, env=child_env(), stdout=stdout,
                            stderr=subprocess.STDOUT, **kwargs)


def made_once(tmp_path_factory, name, make):
    """``make(folder)``'s result (JSON), made in a new folder once for the whole test run.

    Under pytest-xdist every worker has its own session, so a session fixture would be
    made once per worker; here the first worker to need it makes it while holding a lock
    (the others wait for it), and all read the same result.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ or fcntl is None:
        return make(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent  # shared by the workers
    folder, result = root / name, root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)  # left by a failed attempt
            folder.mkdir()
            result.write_text(json.dumps(make(folder)))
        return json.loads(result.read_text())


@pytest.fixture(scope="session")
def session_data(tmp_path_factory):
    """The image folder of the session's shared run (do not change it)."""
    return made_once(tmp_path_factory, "session",
                     lambda folder: make_image_folder(folder / "faces"))


@pytest.fixture(scope="session")
def session_main(session_data, tmp_path_factory):
    """The shared run, trained once per test run by main.py in a subprocess:
    (run folder, CompletedProcess).  Tests must not change it: use ``trained_run``."""
    def train(folder):
        out = folder / "run"
        result = run_main(*SESSION_RUN_FLAGS, f"--data_dir={session_data}",
                          f"--output_dir={out}")
        assert result.returncode == 0, result.stderr[-3000:]
        return {"out": str(out), "args": result.args, "returncode": result.returncode,
                "stdout": result.stdout, "stderr": result.stderr}

    made = made_once(tmp_path_factory, "session_run", train)
    return pathlib.Path(made.pop("out")), subprocess.CompletedProcess(**made)


@pytest.fixture
def shared_run(session_main):
    """The session's finished two-epoch DCGAN run folder, read-only."""
    return session_main[0]


@pytest.fixture
def trained_run(session_main, tmp_path):
    """A copy of the session's finished two-epoch DCGAN run, for tests that change it."""
    copy = tmp_path / "run"
    shutil.copytree(session_main[0], copy)
    return copy


@pytest.fixture
def run_cli(capsys):
    """Runs the command line in this process: flags -> config -> run, with its exit status."""
    from absl import flags as absl_flags

    from anime_gan import cli

    def run(*argv):
        flag_values = absl_flags.FlagValues()
        cli.define_flags(flag_values)
        try:
            cli.parse_flags(["main.py", *argv], flag_values)
            cli.run(cli.config_from_flags(flag_values))
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, captured.out, captured.err)
    return run


@pytest.fixture
def tiny_backbone(tmp_path):
    """A small Keras feature network saved as a file, like the anime RotNet backbone."""
    import keras

    images = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(images)
    features = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / "features.keras"
    keras.Model(images, features).save(path)
    return str(path)


def restored_state(run_dir):
    """The newest checkpoint of a run, loaded into freshly built networks."""
    from anime_gan.run_folder import RunFolder
    from anime_gan.run_folder.checkpoints import TrainingState
    from anime_gan.sampling import fixed_latents
    from anime_gan.gan_builder import build_gan

    folder = RunFolder(run_dir)
    config = folder.read_config()
    state = TrainingState(build_gan(config), fixed_latents(config.latent_dim, 0),
                          folder.checkpoints)
    assert state.restore_latest(), "no checkpoint"
    return state


def history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def checkpoints_written(run_dir):
    index = os.path.join(run_dir, "checkpoints", "checkpoint")
    if not os.path.exists(index):
        return 0
    with open(index) as f:
        return sum(line.startswith("all_model_checkpoint_paths") for line in f)


def wait_for(condition, process, timeout=300):
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, "training ended before the test could stop it"
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def tensorboard_steps(directory):
    """{tag: sorted steps} of the TensorBoard event files in ``directory``."""
    import tensorflow as tf

    steps = {}
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                steps.setdefault(value.tag, []).append(event.step)
    return {tag: sorted(numbers) for tag, numbers in steps.items()}


def tensorboard_tags(directory):
    return set(tensorboard_steps(directory))

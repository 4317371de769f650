import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_image(path, array, **save_kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 24 small random RGB images in both Kaggle layouts."""
    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for i in range(12):
        size = (int(rng.integers(40, 120)), int(rng.integers(40, 120)))
        write_image(str(root / "images" / f"{i}.jpg"),
                    rng.integers(0, 256, size + (3,), dtype=np.uint8))
        write_image(str(root / "data" / "data" / f"{i}.png"),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return str(root)


def run_python(args, cwd=REPO_ROOT, **kwargs):
    """Runs ``python ARGS`` and returns the CompletedProcess (text output)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, **kwargs)


def run_main(*flags):
    return run_python([os.path.join(REPO_ROOT, "main.py"), *flags])


def start_main(*flags, stdout=None):
    """Starts main.py in the background; stdout and stderr go to the ``stdout`` file."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "main.py"), *flags],
                            cwd=REPO_ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT)


@pytest.fixture
def trained_run(image_folder, tmp_path_factory):
    """A finished two-epoch DCGAN run (one step per epoch) on the small image folder."""
    out = tmp_path_factory.mktemp("trained") / "run"
    result = run_main("--model=dcgan", "--epochs=2", "--steps_per_epoch=1", "--batch_size=4",
                      "--seed=3", f"--data_dir={image_folder}", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    return out


class AtStep(keras.callbacks.Callback):
    """Calls ``action(model)`` after the generator step ``step`` (for fault injection)."""

    def __init__(self, step, action):
        super().__init__()
        self.step = step
        self.action = action

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations) == self.step:
            self.action(self.model)

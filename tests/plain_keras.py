"""Runs a saved model in a fresh process that never imports ``anime_gan``."""

import subprocess
import sys

import numpy as np


def outputs_without_anime_gan(model, inputs, tmp_path):
    """``model`` saved, loaded in a fresh Python process without this project (every layer
    must load as Keras's own) and called on ``inputs``: its outputs."""
    path, inputs_path, outputs_path = (tmp_path / name for name in
                                       ("model.keras", "inputs.npy", "outputs.npy"))
    model.save(path)
    np.save(inputs_path, inputs)
    script = (
        "import sys, keras, numpy as np\n"
        f"model = keras.models.load_model({str(path)!r})\n"
        "assert not any(m.startswith('anime_gan') for m in sys.modules)\n"
        "assert all(type(l).__module__.startswith('keras.') for l in model.layers)\n"
        f"np.save({str(outputs_path)!r}, np.asarray(model(np.load({str(inputs_path)!r}))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(outputs_path)

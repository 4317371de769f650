"""Keras callbacks that write a run's artifacts: sample grids, networks, plots.

Every file is written under a temporary name and moved into place, so a crash
never leaves a half-written file under its final name.
"""

import contextlib
import csv
import os

import keras
import numpy as np

from anime_gan.data import to_uint8
from anime_gan.faults import ArtifactWriteError

GRID_ROWS = 8


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    If writing fails, ``path`` keeps its old content and ``ArtifactWriteError``
    says which file could not be written.
    """
    directory, name = os.path.split(path)
    # Keep the extension last: Keras and matplotlib choose the format by it.
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise ArtifactWriteError(
            f"could not write {path}: {error.strerror or error}; the files written "
            "before are intact. Free some space or fix the folder, then run the same "
            "command to resume.") from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def square_grid_rows(count):
    """Rows of the most nearly square grid of ``count`` images, no wider than tall + 1."""
    return -(-count // int(np.ceil(np.sqrt(count))))


def image_grid(images, rows=GRID_ROWS):
    """uint8 images [rows*cols, H, W, C] -> one uint8 image [rows*H, cols*W, C]."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    cols = -(-n // rows)
    padded = np.zeros((rows * cols, h, w, c), images.dtype)
    padded[:n] = images
    return padded.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(
        rows * h, cols * w, c
    )


def save_image(path, image):
    with atomic_path(path) as tmp:
        keras.utils.save_img(tmp, image, scale=False)


def fixed_latents(latent_dim, seed, count=GRID_ROWS * GRID_ROWS):
    """The latent batch behind every sample grid of a run."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, writes ``samples/epoch_NNNN.png`` from one fixed latent batch,
    and the same grid to TensorBoard if ``log_dir`` is given."""

    def __init__(self, output_dir, latents, log_dir=None):
        super().__init__()
        self.sample_dir = os.path.join(output_dir, "samples")
        self.latents = latents
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.sample_dir, exist_ok=True)
        images = self.model.sampling_generator(self.latents, training=False)
        grid = image_grid(keras.ops.convert_to_numpy(to_uint8(images)))
        save_image(os.path.join(self.sample_dir, f"epoch_{epoch + 1:04d}.png"), grid)
        if self.log_dir:
            self._log_to_tensorboard(grid, epoch + 1)

    def _log_to_tensorboard(self, grid, epoch):
        """The grid as an image summary in ``LOG_DIR/samples`` (TensorFlow-specific)."""
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        with self._writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch)
        self._writer.flush()


class StepTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, numbering per-step metrics by the generator step,
    so a resumed run continues its curves instead of starting again at 0."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._global_train_batch = self.model.generator_steps


class SaveNetworks(keras.callbacks.Callback):
    """After each epoch, saves ``generator.keras``, ``discriminator.keras`` and, with
    an EMA generator, ``generator_ema.keras``."""

    def __init__(self, output_dir):
        super().__init__()
        self.output_dir = output_dir

    def on_epoch_end(self, epoch, logs=None):
        networks = [("generator", self.model.generator),
                    ("discriminator", self.model.discriminator)]
        if self.model.ema_generator is not None:
            networks.append(("generator_ema", self.model.ema_generator))
        for name, network in networks:
            with atomic_path(os.path.join(self.output_dir, f"{name}.keras")) as tmp:
                network.save(tmp)


def read_history_rows(csv_path):
    """The rows of ``history.csv`` as dicts; a missing file or a damaged row yields nothing."""
    if not os.path.isfile(csv_path):
        return []
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [row for row in rows if None not in row.values() and row.get("epoch", "").isdigit()]


def write_history_rows(csv_path, rows):
    columns = ["epoch"] + sorted({key for row in rows for key in row} - {"epoch"})
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def truncate_history(csv_path, epochs):
    """Drops the rows of epochs after ``epochs`` (written before a crash, not checkpointed)."""
    rows = read_history_rows(csv_path)
    kept = [row for row in rows if int(row["epoch"]) <= epochs]
    if len(kept) != len(rows):
        write_history_rows(csv_path, kept)


class HistoryCSV(keras.callbacks.Callback):
    """Per-epoch metrics in ``history.csv``, epochs numbered from 1 like the sample grids.

    The file is rewritten whole, atomically, after every epoch, so it is never
    half-written; a resumed run replaces the rows of epochs it trains again.
    """

    def __init__(self, csv_path):
        super().__init__()
        self.csv_path = csv_path

    def on_epoch_end(self, epoch, logs=None):
        rows = [row for row in read_history_rows(self.csv_path) if int(row["epoch"]) <= epoch]
        rows.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        write_history_rows(self.csv_path, rows)


def read_history(csv_path):
    """history.csv -> {column: list of floats}."""
    rows = read_history_rows(csv_path)
    # An empty cell (a metric not logged that epoch, like kid) reads as NaN.
    return {key: [float(row[key] or "nan") for row in rows] for key in (rows[0] if rows else {})}


PLOTS = {
    "losses.png": ("Losses", ("d_loss", "g_loss")),
    "scores.png": ("Mean D(x) and D(G(z))", ("real_score", "fake_score")),
    "wasserstein.png": ("Wasserstein estimate and gradient penalty",
                        ("wasserstein", "gradient_penalty")),
    "kid.png": ("KID (small sample, --eval_every)", ("kid",)),
}


def plot_history(csv_path, output_dir):
    """Writes each plot in ``PLOTS`` whose metrics ``history.csv`` has; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    from matplotlib import pyplot as plt

    history = read_history(csv_path)
    written = []
    for filename, (title, keys) in PLOTS.items():
        keys = [k for k in keys if k in history]
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        epochs = history["epoch"]
        for key in keys:
            ax.plot(epochs, history[key], marker="o", label=key)
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend()
        ax.grid(alpha=0.3)
        path = os.path.join(output_dir, filename)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


class HistoryPlots(keras.callbacks.Callback):
    """After each epoch, redraws the plots from ``history.csv`` (place after CSVLogger)."""

    def __init__(self, csv_path, output_dir):
        super().__init__()
        self.csv_path = csv_path
        self.output_dir = output_dir

    def on_epoch_end(self, epoch, logs=None):
        plot_history(self.csv_path, self.output_dir)

"""Jupyter, Colab and Kaggle: ``LiveView`` while training, ``show_history``, the Kaggle data.

Pictures follow ``anime_gan.display``'s rule (shown once, without pyplot), and IPython is
never imported here, so the command line does not need it.
"""

import glob
import logging
import os
import uuid

import keras
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from anime_gan import history
from anime_gan.display import InlineFigure, bundle, in_notebook, ipython_shell, publish, show
from anime_gan.errors import MAX_SEED, ArgumentTypeError, check_whole_numbers
from anime_gan.files import user_path
from anime_gan.images import image_grid, square_grid_rows, to_uint8
from anime_gan.run_folder import RunFolder
from anime_gan.sampling import fixed_latents

logger = logging.getLogger(__name__)

KAGGLE_INPUT = "/kaggle/input"

__all__ = ["LiveView", "find_anime_faces", "history_figure", "in_notebook", "show",
           "show_history"]


def the_same_call(function, output_dir=None):
    """What a message asks to run again: in a notebook the call, elsewhere the command; with
    the run folder if given (a call that left it out would start a new folder, not resume)."""
    if in_notebook():
        return f"{function}() call" + (f" (with output_dir={os.fspath(output_dir)!r})"
                                       if output_dir else "")
    return "command" + (f" (with --output_dir={output_dir})" if output_dir else "")


def history_figure(run_dir):
    """An ``InlineFigure`` of a run's ``history.csv``: each plot of ``history.PLOTS`` it has."""
    values = history.read_history(RunFolder(user_path(run_dir, "show_history")).history)
    plots = [(title, [k for k in keys if k in values])
             for title, keys in history.PLOTS.values()]
    plots = [(title, keys) for title, keys in plots if keys]
    if not plots:
        raise FileNotFoundError(f"{run_dir}: no history.csv with metrics to plot")
    figure = InlineFigure(figsize=(4.5 * len(plots), 3.2), dpi=80, layout="constrained")
    panels = figure.subfigures(1, len(plots), squeeze=False)[0]
    for panel, (title, keys) in zip(panels, plots):
        history.draw_plot(values, title, keys, figure=panel)
    return figure


def show_history(run_dir):
    """Shows a run's metric plots (losses, scores...) over the epochs; returns the figure."""
    return show(history_figure(run_dir))


def find_anime_faces(root=KAGGLE_INPUT):
    """The Anime Face Dataset's folder when it is attached to a Kaggle notebook, else None.

    Kaggle mounts data sets under ``/kaggle/input/`` (``splcher/animefacedataset`` as
    ``/kaggle/input/animefacedataset/images/``); a folder named like ``*anime*face*`` up to
    three levels down that holds images is taken.  ``--data_dir`` reads it recursively.
    """
    for depth in range(1, 4):
        pattern = os.path.join(root, *["*"] * depth)
        for path in sorted(glob.glob(pattern)):
            name = os.path.basename(path).lower().replace("-", "").replace("_", "")
            if os.path.isdir(path) and "anime" in name and "face" in name and _has_images(path):
                return path
    return None


def _has_images(folder):
    extensions = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
    for _, _, files in os.walk(folder):
        if any(f.lower().endswith(extensions) for f in files):
            return True
    return False


class LiveView(keras.callbacks.Callback):
    """Shows a GAN's samples and loss curves in the notebook while it trains, in place.

    One display in the cell output, created when training starts and redrawn at the end
    of every epoch (and every ``every_steps`` generator steps, if given): on the left the
    sampling generator's images from fixed latents (by default the first ``num_images``
    of the run's sample grid for ``seed``), on the right ``keys`` per step (faint) and
    smoothed.  ``anime_gan.train`` adds one by itself in a notebook; add it by hand to a
    ``fit``: ``gan.fit(data, epochs=1, callbacks=[anime_gan.LiveView()])``.  Outside a
    notebook it does nothing.
    """

    def __init__(self, latents=None, num_images=16, seed=0, every_steps=None,
                 keys=("d_loss", "g_loss")):
        super().__init__()
        check_whole_numbers("LiveView", num_images=num_images)
        check_whole_numbers("LiveView", 0, MAX_SEED, seed=seed)
        if every_steps is not None:
            check_whole_numbers("LiveView", every_steps=every_steps)
        self.latents = None if latents is None else np.asarray(latents, np.float32)
        if self.latents is not None and (self.latents.ndim != 2 or not len(self.latents)):
            raise ValueError(f"LiveView: latents shaped {self.latents.shape}: give "
                             "[N, latent_dim], N >= 1")
        self.num_images, self.seed = num_images, seed
        self.every_steps, self.keys = every_steps, tuple(keys)
        self.steps, self.values = [], {key: [] for key in self.keys}
        self.active = False
        self.display_id = None
        self._display_cell = None
        self._step = self._last_batch = None
        self._last_means = {}
        self._drawn_step = None

    # --- Keras hooks ------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.active = in_notebook()
        if not self.active:
            logger.info("LiveView: not in a notebook, so nothing to show")
            return
        latent_dim = self._generator().input_shape[-1]
        if self.latents is None:
            self.latents = fixed_latents(latent_dim, self.seed, self.num_images)
        elif latent_dim is not None and self.latents.shape[1] != latent_dim:
            raise ValueError(f"LiveView: its latents have {self.latents.shape[1]} values "
                             f"each, and the generator takes {latent_dim}")
        self._step = getattr(self.model, "generator_steps", None)
        if self._step is None:
            self._step = self.steps[-1] if self.steps else 0
        cell = getattr(ipython_shell(), "execution_count", None)
        if self._display_cell != cell:  # a new cell: a new display (one per cell)
            self.display_id, self._display_cell = None, cell
        self.draw()

    def on_epoch_begin(self, epoch, logs=None):
        self._last_batch, self._last_means = None, {}

    def on_train_batch_end(self, batch, logs=None):
        if not self.active:
            return
        self._step += 1
        self._record(batch, logs or {})
        if self.every_steps and self._step % self.every_steps == 0:
            self.draw()

    def on_epoch_end(self, epoch, logs=None):
        if self.active and self._drawn_step != self._step:
            self.draw()

    def on_train_end(self, logs=None):  # a fit stopped mid-epoch: its last steps
        self.on_epoch_end(None, logs)

    # --- Drawing -------------------------------------------------------------------------

    def _record(self, batch, logs):
        """Stores this step's value of each key.  Keras logs the running mean since the
        epoch began; consecutive means give the step's own value back."""
        values = {}
        for key in self.keys:
            if key not in logs:
                continue
            mean = float(logs[key])
            if batch and self._last_batch == batch - 1 and key in self._last_means:
                values[key] = (batch + 1) * mean - batch * self._last_means[key]
            else:  # the epoch's first step, or steps skipped (steps_per_execution > 1)
                values[key] = mean
            self._last_means[key] = mean
        self._last_batch = batch
        if values:
            self.steps.append(self._step)
            for key in self.keys:
                self.values[key].append(values.get(key, np.nan))

    def _generator(self):
        generator = getattr(self.model, "sampling_generator", None)
        if generator is None and not hasattr(self.model, "generator"):
            raise ArgumentTypeError(f"LiveView shows a GAN's samples; {type(self.model).__name__} "
                                    "has no generator (fit one of anime_gan's GANs with it)")
        return self.model.generator if generator is None else generator

    def figure(self):
        """The current view as a ``Figure``: samples on the left, losses on the right."""
        images = keras.ops.convert_to_numpy(
            to_uint8(self._generator()(self.latents, training=False)))
        grid = image_grid(images, rows=square_grid_rows(len(images)))
        figure = Figure(figsize=(10, 4.2), dpi=80, layout="constrained")
        left, right = figure.subplots(1, 2, width_ratios=(1, 1.6))
        left.imshow(grid, interpolation="nearest")
        left.set_title(f"samples at step {self._step}")
        left.axis("off")
        for key in self.keys:
            values = np.asarray(self.values[key], np.float64)
            if not np.isfinite(values).any():
                continue
            line, = right.plot(self.steps, values, alpha=0.25, linewidth=0.8)
            right.plot(self.steps, _smooth(values), color=line.get_color(), label=key,
                       marker="o" if len(values) == 1 else None)  # one point: no line
        right.set(title="losses", xlabel="generator step")
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        if self.steps:
            right.legend(loc="upper right")
        right.grid(alpha=0.3)
        return figure

    def draw(self):
        """Draws the view now, replacing the cell's earlier one."""
        data = bundle(self.figure())
        data["text/plain"] = f"<LiveView: step {self._step}>"
        if self.display_id is None:
            self.display_id = uuid.uuid4().hex
            publish(data, self.display_id)
        else:
            publish(data, self.display_id, update=True)
        self._drawn_step = self._step


def _smooth(values, weight=0.9):
    """TensorBoard-style exponential smoothing, with its bias correction; NaNs skipped."""
    smoothed, average, count = [], 0.0, 0
    for value in values:
        if np.isfinite(value):
            count += 1
            average = weight * average + (1 - weight) * value
        smoothed.append(average / (1 - weight ** count) if count else np.nan)
    return np.asarray(smoothed)

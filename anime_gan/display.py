"""Figures in Jupyter, shown once: the display rule of ``show_grid`` and its friends.

Nothing here imports IPython: it is looked up in ``sys.modules``, where every Jupyter
kernel (Jupyter, JupyterLab, VS Code, Colab, Kaggle) has it, so the command line never
needs it.  Nothing here touches pyplot or matplotlib's backend either: figures are
``matplotlib.figure.Figure`` objects, rendered to PNG and published with IPython's
``display``.

The rule: ``show(figure)`` displays the figure at once in a notebook, and the figures
``show_grid``, ``show_history`` and ``show`` return are ``InlineFigure``s, which are shown
at most once per cell.  So a call shows one picture whether or not it is a cell's last
line (the echo of the returned figure adds nothing), ``fig = show_grid(...)`` shows it
too, and ``fig`` alone in a later cell shows it again.  Outside a notebook nothing is
displayed; save the returned figure instead: ``show_grid(images).savefig("grid.png")``.
"""

import base64
import io
import logging
import math
import os
import sys
import weakref

import numpy as np
from matplotlib.figure import Figure

from anime_gan.errors import ArgumentTypeError, check_whole_numbers
from anime_gan.images import image_grid, square_grid_rows, to_uint8

logger = logging.getLogger(__name__)

TITLE_INCHES = 0.3  # the band above a grid for its title


def ipython_shell():
    """The running IPython shell, or None.  Does not import IPython."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def in_notebook():
    """True in a Jupyter kernel, where pictures can be displayed (not in terminal IPython)."""
    return getattr(ipython_shell(), "kernel", None) is not None


def publish(data, display_id=None, update=False):
    """Displays a MIME bundle in the cell output, or replaces display ``display_id``'s."""
    from IPython.display import display, update_display

    if update:
        update_display(data, display_id=display_id, raw=True)
    else:
        display(data, display_id=display_id, raw=True)


def figure_png(figure, dpi=None):
    """The figure as PNG bytes (tight bounding box)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi or figure.dpi, bbox_inches="tight",
                   pad_inches=0.05)
    return buffer.getvalue()


def bundle(figure):
    return {"image/png": base64.b64encode(figure_png(figure)).decode("ascii"),
            "text/plain": repr(figure)}


# Figures displayed during the running cell; emptied after each cell.
_shown = weakref.WeakSet()
_hooked_shells = weakref.WeakSet()


def _forget_shown(*_):
    _shown.clear()


class InlineFigure(Figure):
    """A ``Figure`` that a notebook shows at most once per cell (see the module's docstring)."""

    def _ipython_display_(self):
        if in_notebook():
            show(self)
        else:  # terminal IPython: the text a figure shows there
            print(repr(self))


def show(figure):
    """Displays ``figure`` in the cell output, unless it was displayed in this cell already.

    Returns the figure.  Outside a notebook it only returns it.
    """
    shell = ipython_shell()
    if not in_notebook() or figure in _shown:
        return figure
    publish(bundle(figure))
    _shown.add(figure)
    if shell not in _hooked_shells:
        shell.events.register("post_run_cell", _forget_shown)
        _hooked_shells.add(shell)
    return figure


def grid_pixels(images):
    """Images to show as uint8 [N, H, W, 3] (or [H, W, 3]): uint8 as given, float images
    (a generator's output, tensors too) read on the networks' [-1, 1] scale, grey
    ([..., 1]) repeated into RGB."""
    if isinstance(images, (str, os.PathLike)) or hasattr(images, "layers"):
        raise ArgumentTypeError(f"show_grid takes images, not {type(images).__name__}: "
                                "anime_gan.sample(load_generator(RUN), 16) gives a run's")
    images = np.asarray(images)
    if images.dtype.kind in "OUS":  # say, a list of models or of file names
        raise ArgumentTypeError("show_grid takes images (arrays of numbers), not "
                                f"{'strings' if images.dtype.kind in 'US' else 'Python objects'}")
    if images.ndim not in (3, 4) or images.shape[-1] not in (1, 3):
        raise ValueError("expected images [N, H, W, 3] or one image [H, W, 3] (or grey, "
                         f"[..., 1]); got an array of shape {images.shape}")
    if images.size == 0:
        raise ValueError(f"no images to show (an array of shape {images.shape})")
    if np.issubdtype(images.dtype, np.floating):
        largest = float(np.abs(images).max()) if np.isfinite(images).all() else math.nan
        if not largest <= 1.25:  # NaN too
            logger.warning("Float images are shown on the networks' [-1, 1] scale, and these "
                           "reach %g: give uint8 pixels, or images / 127.5 - 1", largest)
        elif np.nanmin(images) >= 0 and largest > 0:
            logger.warning("Float images are shown on the networks' [-1, 1] scale, and these "
                           "are all in [0, 1], so they show pale: give images * 2 - 1 for "
                           "0..1 pixels")
        images = np.asarray(to_uint8(images))
    elif images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255:
            logger.warning("Integer images are shown as 0..255 pixels, and these reach %d..%d: "
                           "values outside are clipped", images.min(), images.max())
        images = np.clip(images, 0, 255).astype(np.uint8)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def grid_figure(images, rows=None, title=None):
    """An ``InlineFigure`` of images [N, H, W, 3] (or one image [H, W, 3]) as a grid,
    one figure pixel per image pixel; see ``grid_pixels`` for the scales taken."""
    images = grid_pixels(images)
    if rows is not None and images.ndim == 4:
        check_whole_numbers("show_grid", 1, len(images), rows=rows)
    grid = images if images.ndim == 3 else image_grid(
        images, rows=rows or square_grid_rows(len(images)))
    # A title gets a band of its own above the images, inside the figure, so that a
    # saved figure keeps it too.
    title_inches = TITLE_INCHES if title else 0.0
    height = grid.shape[0] / 100
    figure = InlineFigure(figsize=(grid.shape[1] / 100, height + title_inches), dpi=100)
    ax = figure.add_axes((0, 0, 1, height / (height + title_inches)))
    ax.imshow(grid, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, pad=4)
    return figure

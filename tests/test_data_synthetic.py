"""The built-in cartoon faces."""

import numpy as np

from anime_gan.data import synthetic

def test_synthetic_faces_are_varied_and_deterministic():
    faces = synthetic.cartoon_faces(16, 64, seed=3)
    assert faces.shape == (16, 64, 64, 3) and faces.dtype == np.uint8
    np.testing.assert_array_equal(faces, synthetic.cartoon_faces(16, 64, seed=3))
    assert not np.array_equal(faces, synthetic.cartoon_faces(16, 64, seed=4))
    # Every face differs from every other, and each has many colours.
    flat = faces.reshape(16, -1)
    assert len({row.tobytes() for row in flat}) == 16
    assert all(len(np.unique(f.reshape(-1, 3), axis=0)) > 20 for f in faces)


def test_synthetic_faces_at_128():
    assert synthetic.cartoon_faces(2, 128, seed=0).shape == (2, 128, 128, 3)


def test_painting_an_ellipse_in_its_bounding_box_paints_the_whole_canvas_ellipse():
    """Each shape is computed only in its bounding box: it must cover exactly the pixels
    the ellipse's inequality selects over the whole canvas, also for shapes cut by the
    edges, shapes entirely outside and pixels on the boundary."""
    rng = np.random.default_rng(0)
    for n in (8, 128, 256):
        coordinates = np.arange(n).astype(np.float32) / (n - 1) * 2.0 - 1.0
        x, y = coordinates[None, :], coordinates[:, None]
        for _ in range(300):
            cx, cy = rng.uniform(-1.6, 1.6, size=2)
            rx, ry = rng.uniform(0.005, 1.2, size=2)
            if rng.random() < 0.2:  # centre and radius on pixel coordinates
                cx, cy, rx = coordinates[rng.integers(n, size=3)]
                rx, ry = abs(rx) + 2 / (n - 1), abs(cy - cx) + 2 / (n - 1)
            above = [None, rng.uniform(-1, 1), np.sin(x * rng.uniform(1, 9))][rng.integers(3)]
            canvas = np.zeros((3, n, n))
            synthetic._paint_ellipse(canvas, x, y, cx, cy, rx, ry, (1, 2, 3), above=above)

            inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
            if above is not None:
                inside &= y < above
            expected = inside[None] * np.array([1.0, 2.0, 3.0])[:, None, None]
            np.testing.assert_array_equal(canvas, expected)


def test_faces_are_contiguous_images():
    faces = synthetic.cartoon_faces(3, 64, seed=1)
    assert faces.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(faces[1], synthetic.draw_face(_rng_after_one_face(1), 64))


def _rng_after_one_face(seed):
    rng = np.random.default_rng(seed)
    synthetic.draw_face(rng, 64)
    return rng

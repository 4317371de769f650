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

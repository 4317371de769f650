import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_image(path, array, **save_kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 24 small random RGB images in both Kaggle layouts."""
    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for i in range(12):
        size = (int(rng.integers(40, 120)), int(rng.integers(40, 120)))
        write_image(str(root / "images" / f"{i}.jpg"),
                    rng.integers(0, 256, size + (3,), dtype=np.uint8))
        write_image(str(root / "data" / "data" / f"{i}.png"),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return str(root)

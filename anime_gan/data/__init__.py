"""Training data: image folders, TensorFlow Datasets and the built-in faces, as ``tf.data``.

- ``image_files``: the fast up-front check of an image folder (what is usable, what is skipped);
- ``pipeline``: decoding into a cache, and the seeded, resumable stream of training batches;
- ``synthetic``: the built-in cartoon faces, drawn with numpy.
"""

from anime_gan.data.pipeline import (TrainingStream, decode_image_file, load_images,
                                     make_dataset, make_stream)

__all__ = ["TrainingStream", "decode_image_file", "load_images", "make_dataset", "make_stream"]

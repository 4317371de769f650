"""Evaluating a generator against real images: backbone features, then FID/KID/PR.

- ``metrics``: Frechet distance, KID and precision/recall on feature vectors (numpy);
- ``backbones``: the feature networks (InceptionV3, or any Keras model file);
- ``features``: real features (cached next to the data) and generated ones;
- ``evaluate``: ``evaluate_run``, what ``--mode=evaluate`` does.
"""

from anime_gan.evaluation.backbones import (Backbone, inception_backbone,
                                            keras_file_backbone, load_backbone)
from anime_gan.evaluation.evaluate import compare, evaluate_run
from anime_gan.evaluation.features import generated_features, real_features

__all__ = ["Backbone", "compare", "evaluate_run", "generated_features", "inception_backbone",
           "keras_file_backbone", "load_backbone", "real_features"]

"""anime-gan: GANs for anime faces in Keras 3 / TensorFlow: DCGAN, WGAN-GP, WGAN, SNGAN.

The notebook API: ``train`` a GAN into a run folder, ``load_generator`` from one,
``sample`` images and ``show_grid`` them, ``interpolation_grid``, ``export_generator``
as a SavedModel; in Jupyter, ``LiveView`` shows training live and ``show_history`` the
metrics (``anime_gan.notebook``).  The networks are plain Keras models (``build_generator``...).
"""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

# First: a Ctrl-C while the command imports TensorFlow stops it without a traceback, and
# TensorFlow's C++ log lines (TF_CPP_MIN_LOG_LEVEL) are hidden before TensorFlow loads.
from anime_gan.errors import quiet_ctrl_c_while_the_command_starts  # noqa: I001
quiet_ctrl_c_while_the_command_starts()
from anime_gan import tensorflow_logs  # noqa: F401, E402
from anime_gan.commands import evaluate_run, export_run, generate_run
from anime_gan.config import TrainConfig
from anime_gan.data import anime_faces_tfds  # noqa: F401  registers the TFDS builder anime_faces
from anime_gan.data import make_dataset
from anime_gan.errors import ConfigError, DataError, TrainingFault
from anime_gan.export import export_generator
from anime_gan.models import DCGAN, GAN, SNGAN, WGANGP, WGANClip
from anime_gan.notebook import LiveView, show_history
from anime_gan.networks import (build_critic, build_discriminator, build_generator,
                                build_sn_discriminator)
from anime_gan.run_folder import RunFolder
from anime_gan.sampling import interpolation_grid, load_generator, sample, show_grid, slerp
from anime_gan.gan_builder import build_gan
from anime_gan.training import train

__all__ = [
    "__version__",
    "ConfigError", "DataError", "TrainingFault", "TrainConfig", "RunFolder", "make_dataset",
    "DCGAN", "GAN", "WGANGP", "WGANClip", "SNGAN", "build_critic", "build_discriminator", "build_generator",
    "build_sn_discriminator",
    "build_gan", "train", "export_generator", "export_run", "generate_run", "evaluate_run",
    "interpolation_grid", "load_generator", "sample", "show_grid", "slerp",
    "LiveView", "show_history",
]

# In IPython only: show the library's log messages in the cell (see anime_gan.logs).
from anime_gan import logs as _logs  # noqa: E402

_logs.setup()
_logs.hide_new_model_retracing()

"""Generator, DCGAN discriminator and WGAN-GP critic as functional Keras models.

The architecture is the reference PyTorch DCGAN (Radford et al., 2016): every
up/down-sampling layer is a 4x4 (transposed) convolution with stride 2 and no
bias, channels doubling towards the 4x4 bottleneck.  The layers are Keras's own,
with three measured exceptions, each saved as the Keras layer it computes the same as:
batch normalization trains with TensorFlow's fused kernel
(``anime_gan.fused_batch_norm``), the convolutions next to the bottleneck train as
matrix products of patches (``anime_gan.patches_conv``), and the WGAN-GP critic's
LeakyReLU does not differentiate its zero second derivative
(``anime_gan.penalty_leaky_relu``).  So a saved model loads with plain
``keras.models.load_model`` in a process that never imports ``anime_gan``.
"""

import math

import keras
from keras import layers

from anime_gan import fused_batch_norm, patches_conv, penalty_leaky_relu
from anime_gan.errors import check_whole_numbers

SUPPORTED_IMAGE_SIZES = (64, 128)
UPSAMPLING = ("transpose", "resize_conv")
BASE_CHANNELS = 64

# Reference PyTorch BatchNorm2d defaults (momentum 0.1 == Keras momentum 0.9).
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5


def _conv_init():
    """N(0, 0.02), as in the DCGAN paper."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _batch_norm(name, synchronized):
    # synchronized: statistics over the global batch under a tf.distribute strategy.
    return fused_batch_norm.BatchNormalization(
        momentum=_BN_MOMENTUM,
        epsilon=_BN_EPSILON,
        synchronized=synchronized,
        gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
        name=name,
    )


def num_resolution_stages(image_size):
    """Stride-2 stages between the 4x4 bottleneck and the image: 4 at 64, 5 at 128."""
    if image_size not in SUPPORTED_IMAGE_SIZES:
        raise ValueError(
            f"image_size must be one of {SUPPORTED_IMAGE_SIZES}, got {image_size!r}"
        )
    return int(math.log2(image_size)) - 2


def _upsample(x, channels, upsampling, name):
    """Doubles the resolution: a 4x4 stride-2 transposed convolution, or (``resize_conv``)
    nearest-neighbour upsampling then a 3x3 convolution, which avoids the checkerboard
    artifacts of uneven kernel overlap (Odena et al., 2016)."""
    if upsampling == "transpose":
        return patches_conv.Conv2DTranspose(
            channels, 4, strides=2, padding="same", use_bias=False,
            kernel_initializer=_conv_init(), name=name,
        )(x)
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    return layers.Conv2D(channels, 3, padding="same", use_bias=False,
                         kernel_initializer=_conv_init(), name=name)(x)


def build_generator(latent_dim=128, image_size=64, name="generator", upsampling="transpose",
                    sync_batch_norm=False):
    """Latent vector [N, latent_dim] -> image [N, size, size, 3] in [-1, 1].

    ``sync_batch_norm``: batch statistics over all replicas of a distribution strategy.
    """
    if upsampling not in UPSAMPLING:
        raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    check_whole_numbers("build_generator", latent_dim=latent_dim)
    stages = num_resolution_stages(image_size)
    channels = BASE_CHANNELS * 2 ** (stages - 1)

    latents = keras.Input(shape=(latent_dim,), name="latents")
    x = layers.Reshape((1, 1, latent_dim), name="to_1x1")(latents)
    # 1x1 -> 4x4: the reference's ConvTranspose2d(nz, 512, 4, stride 1, padding 0).
    x = patches_conv.Conv2DTranspose(
        channels, 4, strides=1, padding="valid", use_bias=False,
        kernel_initializer=_conv_init(), name="project",
    )(x)
    x = _batch_norm("project_bn", sync_batch_norm)(x)
    x = layers.ReLU(name="project_relu")(x)
    for i in range(stages - 1):
        channels //= 2
        x = _upsample(x, channels, upsampling, f"up{i + 1}")
        x = _batch_norm(f"up{i + 1}_bn", sync_batch_norm)(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
    x = _upsample(x, 3, upsampling, "to_rgb")
    # float32 output keeps the image range exact under mixed precision.
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(latents, images, name=name)


def _conv(spectral, *args, name, **kwargs):
    """A Conv2D, wrapped in spectral normalisation (its kernel divided by its largest
    singular value, estimated by one power iteration a step) when ``spectral``."""
    conv = patches_conv.Conv2D(*args, kernel_initializer=_conv_init(), name=name, **kwargs)
    return layers.SpectralNormalization(conv, name=f"{name}_sn") if spectral else conv


def _downsampling_body(x, stages, normalization, use_bias, sync_batch_norm, leaky_relu):
    channels = BASE_CHANNELS
    for i in range(stages):
        x = _conv(normalization == "spectral", channels, 4, strides=2, padding="same",
                  use_bias=use_bias, name=f"down{i + 1}")(x)
        # As in the reference, the first layer has no batch normalisation.
        if normalization == "batch" and i > 0:
            x = _batch_norm(f"down{i + 1}_bn", sync_batch_norm)(x)
        x = leaky_relu(negative_slope=0.2, name=f"down{i + 1}_lrelu")(x)
        channels *= 2
    return x


def _build_image_classifier(image_size, normalization, use_bias, output_name, name,
                            sync_batch_norm=False, score_bias=False,
                            leaky_relu=layers.LeakyReLU):
    stages = num_resolution_stages(image_size)
    images = keras.Input(shape=(image_size, image_size, 3), name="images")
    x = _downsampling_body(images, stages, normalization, use_bias, sync_batch_norm,
                           leaky_relu)
    # No bias on the score where the losses only compare scores (it would never learn);
    # the hinge loss compares them with fixed margins, so there it has one.
    x = _conv(normalization == "spectral", 1, 4, strides=1, padding="valid",
              use_bias=score_bias, name="to_score")(x)
    scores = layers.Flatten(dtype="float32", name=output_name)(x)
    return keras.Model(images, scores, name=name)


def build_discriminator(image_size=64, name="discriminator", sync_batch_norm=False):
    """DCGAN discriminator: image -> one real/fake logit [N, 1] (no sigmoid).

    Also the original WGAN's critic, which kept the DCGAN discriminator, batch norm
    included (Arjovsky et al., 2017).
    """
    return _build_image_classifier(
        image_size, normalization="batch", use_bias=False, output_name="logits", name=name,
        sync_batch_norm=sync_batch_norm,
    )


def build_critic(image_size=64, name="critic"):
    """WGAN-GP critic: image -> unbounded score [N, 1].

    No batch normalisation: the gradient penalty is taken per sample, and batch
    norm would make each score depend on the rest of the batch (Gulrajani et al.,
    2017, section 4).  We use no normalisation at all rather than layer norm;
    with nothing to absorb a bias, the hidden convolutions keep theirs.  Its input
    gradient is differentiated (the penalty), so its activations are
    ``penalty_leaky_relu``'s.
    """
    return _build_image_classifier(
        image_size, normalization="none", use_bias=True, output_name="scores", name=name,
        leaky_relu=penalty_leaky_relu.LeakyReLU,
    )


def build_sn_discriminator(image_size=64, name="sn_discriminator"):
    """SNGAN discriminator: the reference architecture with spectral normalisation on every
    convolution instead of batch norm (Miyato et al., 2018): image -> score [N, 1]."""
    return _build_image_classifier(
        image_size, normalization="spectral", use_bias=True, output_name="scores", name=name,
        score_bias=True,
    )

import numpy as np
import pytest
from keras import layers

from anime_gan import networks

# Parameter counts of the reference PyTorch DCGAN (all layers bias-free; a
# BatchNorm2d has 2 parameters per channel, its running statistics are buffers).


def reference_generator_parameters(nz):
    convs = [nz * 512, 512 * 256, 256 * 128, 128 * 64, 64 * 3]  # x 4x4 kernels
    batch_norms = [512, 256, 128, 64]
    return sum(16 * c for c in convs) + sum(2 * c for c in batch_norms)


def reference_discriminator_parameters():
    convs = [3 * 64, 64 * 128, 128 * 256, 256 * 512, 512 * 1]
    batch_norms = [128, 256, 512]
    return sum(16 * c for c in convs) + sum(2 * c for c in batch_norms)


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_reference_counts_match_published_dcgan():
    # The PyTorch DCGAN tutorial (nz=100) prints 3,576,704 and 2,765,568.
    assert reference_generator_parameters(100) == 3_576_704
    assert reference_discriminator_parameters() == 2_765_568


@pytest.mark.parametrize("latent_dim", [100, 128])
def test_generator_parameter_count_equals_reference(latent_dim):
    generator = networks.build_generator(latent_dim, 64)
    assert trainable_count(generator) == reference_generator_parameters(latent_dim)
    assert trainable_count(generator) == (3_806_080 if latent_dim == 128 else 3_576_704)


def test_discriminator_parameter_count_equals_reference():
    assert trainable_count(networks.build_discriminator(64)) == reference_discriminator_parameters()


@pytest.mark.parametrize("image_size", [64, 128])
def test_generator_shapes_and_range(image_size):
    generator = networks.build_generator(32, image_size)
    latents = np.random.default_rng(0).normal(size=(3, 32)).astype(np.float32)
    images = np.asarray(generator(latents))
    assert images.shape == (3, image_size, image_size, 3)
    assert images.dtype == np.float32
    assert np.all(np.abs(images) <= 1.0)


def test_generator_channels_halve_from_512_at_64_and_1024_at_128():
    def channels(model):
        return [l.filters for l in model.layers if isinstance(l, layers.Conv2DTranspose)]
    assert channels(networks.build_generator(128, 64)) == [512, 256, 128, 64, 3]
    assert channels(networks.build_generator(128, 128)) == [1024, 512, 256, 128, 64, 3]


@pytest.mark.parametrize("build", [networks.build_discriminator, networks.build_critic])
@pytest.mark.parametrize("image_size", [64, 128])
def test_discriminator_and_critic_output_one_score(build, image_size):
    model = build(image_size)
    out = np.asarray(model(np.zeros((2, image_size, image_size, 3), np.float32)))
    assert out.shape == (2, 1)
    convs = [l.filters for l in model.layers if isinstance(l, layers.Conv2D)]
    assert convs[-1] == 1 and convs[:-1] == [64 * 2 ** i for i in range(len(convs) - 1)]


def test_discriminator_outputs_logits_not_probabilities():
    model = networks.build_discriminator(64)
    assert model.layers[-1].name == "logits"
    assert not any(getattr(l, "activation", None).__name__ == "sigmoid"
                   for l in model.layers if hasattr(l, "activation"))


def test_critic_has_no_batch_norm_and_discriminator_has_three():
    def batch_norms(model):
        return sum(isinstance(l, layers.BatchNormalization) for l in model.layers)
    assert batch_norms(networks.build_critic(64)) == 0
    assert batch_norms(networks.build_discriminator(64)) == 3


def test_kernels_initialised_from_normal_0_002():
    generator = networks.build_generator(128, 64)
    kernel = generator.get_layer("up1").kernel.numpy()
    assert abs(kernel.mean()) < 1e-3
    assert kernel.std() == pytest.approx(0.02, rel=0.05)
    gamma = generator.get_layer("up1_bn").gamma.numpy()
    assert gamma.mean() == pytest.approx(1.0, abs=0.01)
    assert gamma.std() == pytest.approx(0.02, rel=0.3)


def test_unsupported_image_size_is_refused():
    with pytest.raises(ValueError, match="image_size"):
        networks.build_generator(128, 96)


@pytest.mark.parametrize("image_size", [64, 128])
def test_resize_conv_generator_upsamples_without_transposed_convolutions(image_size):
    generator = networks.build_generator(128, image_size, upsampling="resize_conv")
    kinds = [type(l).__name__ for l in generator.layers]
    assert kinds.count("Conv2DTranspose") == 1  # only the 1x1 -> 4x4 projection
    stages = networks.num_resolution_stages(image_size)
    assert kinds.count("UpSampling2D") == stages
    images = np.asarray(generator(np.zeros((2, 128), np.float32)))
    assert images.shape == (2, image_size, image_size, 3)
    # 3x3 kernels: the upsampling stages have 9/16 of the reference's weights there.
    convs = [l for l in generator.layers if type(l).__name__ == "Conv2D"]
    assert [c.kernel.shape[:2] for c in convs] == [(3, 3)] * stages
    assert [c.filters for c in convs] == [64 * 2 ** i for i in range(stages - 2, -1, -1)] + [3]


def test_unknown_upsampling_is_refused():
    with pytest.raises(ValueError, match="upsampling"):
        networks.build_generator(128, 64, upsampling="pixel_shuffle")

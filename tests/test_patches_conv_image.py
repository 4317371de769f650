"""At the image (a side of 3 channels), float32 training computes the convolution's slow
pass by patches: the discriminator's first layer's input gradient, the generator's last
layer's output.  The sums are Keras's; in other precisions the layers are Keras's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from anime_gan import patches_conv
from test_patches_conv import by_hand, outputs_and_gradients, pair, spy  # noqa: F401 (a fixture)

CASES = {  # layer classes, keyword arguments, input shape: 16x16x3 <-> 8x8x5
    "from image": (keras.layers.Conv2D, patches_conv.Conv2D,
                   dict(filters=5, use_bias=False), (2, 16, 16, 3)),
    "to image": (keras.layers.Conv2DTranspose, patches_conv.Conv2DTranspose,
                 dict(filters=3, use_bias=False), (2, 8, 8, 5)),
}


@pytest.mark.parametrize("case, used", [("from image", "downsample_image"),
                                        ("to image", "upsample_to_image")])
def test_float32_outputs_and_gradients_match_keras(case, used, spy):
    (keras_layer, ours), shape = pair(case, "float32", cases=CASES)
    x = tf.random.normal(shape, seed=11)
    upstream = tf.random.normal(keras_layer.compute_output_shape(shape), seed=12)
    expected, got = (outputs_and_gradients(layer, x, upstream) for layer in (keras_layer, ours))
    for name, e, g in zip(("output", "input gradient", "weight gradient"), expected, got):
        assert g.shape == e.shape
        assert np.abs(g - e).max() <= 1e-5 * np.abs(e).max(), name
    assert spy == [(used, shape)]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_other_precisions_and_inference_are_keras_own(case, policy, spy):
    for layers, training in ((pair(case, policy, cases=CASES)[0], True),
                             (pair(case, "float32", cases=CASES)[0], False)):
        keras_layer, ours = layers
        x = tf.random.normal(CASES[case][3], seed=13)
        np.testing.assert_array_equal(ours(x, training=training), keras_layer(x))
    assert spy == []


def test_more_channels_than_an_image_are_keras_own(spy):
    layer = patches_conv.Conv2D(4, 4, strides=2, padding="same", use_bias=False)
    layer(tf.zeros((2, 16, 16, patches_conv.IMAGE_CHANNELS + 1)), training=True)
    assert spy == []


def test_both_forms_by_hand_in_float64():
    """Against loops over positions (``by_hand``).  The transposed convolution is the
    convolution's adjoint: its output is the convolution's input gradient of its input,
    its input gradient the convolution of its own, its weight gradient the convolution's
    with the two swapped."""
    rng = np.random.default_rng(14)
    image, kernel = rng.normal(size=(2, 8, 8, 3)), rng.normal(size=(4, 4, 3, 2))
    low = rng.normal(size=(2, 4, 4, 2))
    t = {name: tf.constant(value, tf.float64)
         for name, value in (("image", image), ("kernel", kernel), ("low", low))}
    convolved, transposed, kernel_gradient = by_hand(image, kernel, low)
    for function, source, upstream, expected in (
            (patches_conv.downsample_image, "image", low,
             (convolved, transposed, kernel_gradient)),
            (patches_conv.upsample_to_image, "low", image,
             (transposed, convolved, kernel_gradient))):
        with tf.GradientTape() as tape:
            tape.watch([t[source], t["kernel"]])
            y = function(t[source], t["kernel"])
        got = [y, *tape.gradient(y, [t[source], t["kernel"]],
                                 output_gradients=tf.constant(upstream))]
        for name, e, g in zip(("output", "input gradient", "weight gradient"), expected, got):
            np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, err_msg=f"{source} {name}")


def test_a_gradient_penalty_differentiates_through_the_image_pass(spy):
    images = tf.random.normal((4, 16, 16, 3), seed=15)
    results = []
    for conv_class in (keras.layers.Conv2D, patches_conv.Conv2D):
        keras.utils.set_random_seed(0)
        critic = keras.Sequential([
            keras.Input((16, 16, 3)), conv_class(8, 4, strides=2, padding="same", use_bias=False),
            keras.layers.LeakyReLU(0.2), keras.layers.Flatten(), keras.layers.Dense(1)])
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(images)
                scores = critic(images, training=True)
            norms = tf.norm(tf.reshape(inner.gradient(scores, images), (4, -1)), axis=1)
            penalty = tf.reduce_mean(tf.square(norms - 1))
        results.append(outer.gradient(penalty, critic.trainable_weights[0]).numpy())
    assert spy == [("downsample_image", (4, 16, 16, 3))]
    keras_gradient, ours = results
    assert np.abs(keras_gradient).max() > 0
    assert np.abs(ours - keras_gradient).max() <= 1e-5 * np.abs(keras_gradient).max()

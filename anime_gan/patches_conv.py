"""Convolutions whose bfloat16 weight gradient is patches times a matrix product at the
4x4 bottleneck: the networks' second exception to plain Keras layers, made because it
pays (see the README's speed section).

In bfloat16, TensorFlow's weight gradient of the two 4x4 stride-2 convolutions next to
the 4x4 bottleneck (the discriminator's last downsampling, 8x8x256 -> 4x4x512 at 64x64,
and the generator's first upsampling, its mirror image) runs at under a third of the
machine's convolution rate; gathering each output position's 4x4 input patch and
multiplying the patches by the output gradient in one matrix product computes the same
sum 2.7 to 2.9 times faster (``docs/speed/weight_gradient_patches.py``), and the DCGAN's
whole bfloat16 step 10 to 22% faster (``docs/speed/weight_gradient_step.py``).  On the
larger layers the patches cost more than they save, and in float32 TensorFlow's own
kernel is as fast, so there (and on any other backend) the layers are Keras's own.  So
are convolutions with a bias (the WGAN-GP and SNGAN critics'): beside them TensorFlow's
graph optimizer fails to fuse the bias and activation of the critic's other layers.

The forward pass and the input gradient are TensorFlow's usual convolutions; only the
weight gradient's order of summation differs.  Saved, the layers are plain
``keras.layers.Conv2D`` and ``Conv2DTranspose`` with the same config and weights, so a
saved network loads and runs without this project.
"""

import keras

KERNEL, STRIDE = (4, 4), (2, 2)
BOTTLENECK_POSITIONS = 4 * 4  # the largest low-resolution side computed by patches


def _pays(layer, high_resolution_shape, low_resolution_shape):
    """Whether this (transposed) convolution computes its weight gradient by patches:
    4x4 stride 2 SAME without bias in bfloat16, from a low-resolution side of the
    bottleneck's size to one twice as high and wide."""
    height, width = low_resolution_shape[1:3]
    return (keras.backend.backend() == "tensorflow" and layer.compute_dtype == "bfloat16"
            and not layer.use_bias and layer.kernel_size == KERNEL and layer.strides == STRIDE
            and layer.padding == "same" and layer.dilation_rate == (1, 1)
            and layer.data_format == "channels_last"
            and height is not None and width is not None
            and height * width <= BOTTLENECK_POSITIONS
            and tuple(high_resolution_shape[1:3]) == (2 * height, 2 * width))


class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` (without bias) whose bfloat16 weight gradient at the
    bottleneck is patches times a matrix product."""

    def convolution_op(self, inputs, kernel):
        output_shape = self.compute_output_shape(inputs.shape)
        if self.groups != 1 or not _pays(self, inputs.shape, output_shape):
            return super().convolution_op(inputs, kernel)
        return _downsample(inputs, kernel)


class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` (without bias or activation) whose bfloat16 weight
    gradient at the bottleneck is patches times a matrix product."""

    def call(self, inputs):
        output_shape = self.compute_output_shape(inputs.shape)
        if (self.activation is not keras.activations.linear or self.output_padding is not None
                or not _pays(self, output_shape, inputs.shape)):
            return super().call(inputs)
        return _upsample(inputs, self.kernel)


# TensorFlow only (``_pays`` checks the backend); imported where used, as Keras does.

def _downsample(x, kernel):
    """The convolution (forward and input gradient as TensorFlow computes them), with
    its weight gradient by patches."""
    import tensorflow as tf

    @tf.custom_gradient
    def convolution(x, kernel):
        def gradient(dy):
            return (tf.nn.conv2d_transpose(dy, kernel, tf.shape(x), STRIDE, "SAME"),
                    weight_gradient_by_patches(x, dy, kernel.shape))
        return tf.nn.conv2d(x, kernel, STRIDE, "SAME"), gradient
    return convolution(x, tf.convert_to_tensor(kernel))  # read in the compute dtype


def _upsample(x, kernel):
    """The transposed convolution, with its weight gradient by patches: a transposed
    convolution's is the plain one's with input and output gradient swapped."""
    import tensorflow as tf

    @tf.custom_gradient
    def transposed_convolution(x, kernel):
        def gradient(dy):
            return (tf.nn.conv2d(dy, kernel, STRIDE, "SAME"),
                    weight_gradient_by_patches(dy, x, kernel.shape))
        shape = (tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], kernel.shape[2])
        return tf.nn.conv2d_transpose(x, kernel, shape, STRIDE, "SAME"), gradient
    return transposed_convolution(x, tf.convert_to_tensor(kernel))


def weight_gradient_by_patches(x, dy, kernel_shape):
    """The weight gradient of a 4x4 stride-2 SAME convolution of ``x`` whose output has
    the gradient ``dy``: every output position's 4x4 input patch times its gradient,
    summed over positions and batch in one matrix product."""
    import tensorflow as tf

    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])  # SAME: 2n -> n with a 4x4 kernel
    patches = tf.image.extract_patches(padded, [1, *KERNEL, 1], [1, *STRIDE, 1],
                                       [1, 1, 1, 1], "VALID")
    product = tf.matmul(tf.reshape(patches, (-1, patches.shape[-1])),
                        tf.reshape(dy, (-1, dy.shape[-1])), transpose_a=True)
    return tf.reshape(product, kernel_shape)


# Saved as the Keras layers they compute the same as (see the module's docstring).
Conv2D.__module__ = Conv2DTranspose.__module__ = "keras.layers"

"""The convolutions next to the 4x4 bottleneck (and one pass of those at the image) as
matrix products of patches, when training: the networks' second exception to plain Keras
layers, made because it pays (see the README's speed section).

TensorFlow's kernels for the two 4x4 stride-2 convolutions next to the 4x4 bottleneck (the
discriminator's last downsampling, 8x8x256 -> 4x4x512 at 64x64, and the generator's first
upsampling, its mirror image) run well below the machine's matrix-product rate: 4 to 8
pixels a side are too few for them.  Each output position's 4x4 input patch is a row of
one matrix, and the convolution is that matrix times the kernel's; its input gradient is
the output gradient times the kernel's transpose, each row added back where its patch came
from; its weight gradient is the patches' transpose times the output gradient, from the
patches the forward pass kept.  Taking the patches and adding them back are copies of
the padded input's 2x2 blocks (``space_to_depth``), compiled by XLA into one pass in
float32.  The generator's first layer, a transposed convolution of the 1x1 latents, is
one matrix product (TensorFlow's kernel takes five times as long).  The DCGAN's whole
step is 11 to 13% faster in float32 and 43 to 45% in bfloat16
(``docs/speed/weight_gradient_step.py``; one layer alone:
``docs/speed/bottleneck_conv_forms.py``).  On the larger layers the patches cost more
than they save, so there (and in float16, and on any other backend) the layers are
Keras's own.  So are convolutions with a bias (the WGAN-GP and SNGAN critics'): beside
them TensorFlow's graph optimizer fails to fuse the bias and activation of the critic's
other layers.

At the image, in float32, the same sums take one pass of each 3-channel layer: the one
that writes 3 channels from 64 (the discriminator's first input gradient, the
generator's last output), whose TensorFlow kernel takes 2.5 times as long as the matrix
product with the kernel's transpose and the adding back (``downsample_image``,
``upsample_to_image``; the DCGAN's float32 step 1 to 2.5% faster,
``docs/speed/image_pass_step.py``).  The layers' other passes stay TensorFlow's, faster
there, and so do all of bfloat16's.

The sums are those of TensorFlow's convolutions, in another order.  Outside training
(``training`` not true) the layers run Keras's own convolutions, so a network gives the
very outputs of its saved file and its SavedModel.  Saved, the layers are plain
``keras.layers.Conv2D`` and ``Conv2DTranspose`` with the same config and weights, so a
saved network loads and runs without this project.
"""

import functools

import keras
from keras import ops

KERNEL, STRIDE = (4, 4), (2, 2)
BOTTLENECK_POSITIONS = 4 * 4  # the largest low-resolution side computed by patches
IMAGE_CHANNELS = 4  # the most channels of an image side whose slow pass is by patches


def _halves(layer, high_resolution_shape, low_resolution_shape):
    """Whether this (transposed) convolution is 4x4 stride 2 SAME without bias, under
    TensorFlow, between a known side and one twice as high and wide."""
    height, width = low_resolution_shape[1:3]
    return (keras.backend.backend() == "tensorflow"
            and not layer.use_bias and layer.kernel_size == KERNEL and layer.strides == STRIDE
            and layer.padding == "same" and layer.dilation_rate == (1, 1)
            and layer.data_format == "channels_last"
            and height is not None and width is not None
            and tuple(high_resolution_shape[1:3]) == (2 * height, 2 * width))


def _form(layer, high_resolution_shape, low_resolution_shape):
    """How a training step computes this layer: ``"patches"`` (next to the bottleneck, in
    float32 or bfloat16), ``"image"`` (a side of the image's few channels, in float32) or
    None (Keras's convolution)."""
    if not _halves(layer, high_resolution_shape, low_resolution_shape):
        return None
    height, width = low_resolution_shape[1:3]
    if (layer.compute_dtype in ("float32", "bfloat16")
            and height * width <= BOTTLENECK_POSITIONS):
        return "patches"
    if layer.compute_dtype == "float32" and high_resolution_shape[-1] <= IMAGE_CHANNELS:
        return "image"
    return None


class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` (without bias), computed by patches at the bottleneck, and
    differentiated by patches at the image, when training."""

    def call(self, inputs, training=None):
        form = training and self.groups == 1 and _form(
            self, inputs.shape, self.compute_output_shape(inputs.shape))
        if form == "patches":
            return _activated(self, downsample_by_patches(inputs, self.kernel))
        if form == "image":
            return _activated(self, downsample_image(inputs, self.kernel))
        return super().call(inputs)


class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` (without bias), computed by patches at the
    bottleneck and at the image, or from a 1x1 input as one matrix product, when
    training."""

    def call(self, inputs, training=None):
        if not training or self.output_padding is not None:
            return super().call(inputs)
        if _projects_a_vector(self, inputs.shape):
            return _activated(self, _project(inputs, self.kernel))
        form = _form(self, self.compute_output_shape(inputs.shape), inputs.shape)
        if form == "patches":
            return _activated(self, upsample_by_patches(inputs, self.kernel))
        if form == "image":
            return _activated(self, upsample_to_image(inputs, self.kernel))
        return super().call(inputs)


def _activated(layer, outputs):
    return layer.activation(outputs) if layer.activation is not None else outputs


def _projects_a_vector(layer, input_shape):
    """Whether this transposed convolution spreads a 1x1 input over its whole kernel
    (stride 1, VALID, no bias): the generator's first layer, from the latents to 4x4."""
    return (tuple(input_shape[1:3]) == (1, 1) and layer.strides == (1, 1)
            and layer.padding == "valid" and not layer.use_bias
            and layer.dilation_rate == (1, 1) and layer.data_format == "channels_last")


def _project(x, kernel):
    """The transposed convolution of a 1x1 input: one matrix product with the kernel
    read as a [height * width * channels, input channels] matrix."""
    height, width, channels, inputs = kernel.shape
    matrix = ops.reshape(kernel, (height * width * channels, inputs))
    product = ops.matmul(ops.reshape(x, (-1, inputs)), ops.transpose(matrix))
    return ops.reshape(product, (-1, height, width, channels))


# TensorFlow only (``_halves`` checks the backend); imported where used, as Keras does.

def downsample_by_patches(x, kernel):
    """The convolution by patches, with its gradients by hand."""
    import tensorflow as tf

    @tf.custom_gradient
    def convolution(x, kernel):
        rows = patches(x)

        def gradient(dy):
            return (transposed_product(dy, kernel),
                    tf.reshape(_times(rows, dy, over_positions=True), kernel.shape))
        return _times(rows, _matrix(kernel)), gradient
    return convolution(x, tf.convert_to_tensor(kernel))  # read in the compute dtype


def upsample_by_patches(x, kernel):
    """The transposed convolution by patches: the convolution's passes, with input and
    output swapped."""
    import tensorflow as tf

    @tf.custom_gradient
    def transposed_convolution(x, kernel):
        def gradient(dy):
            rows = patches(dy)
            return (_times(rows, _matrix(kernel)),
                    tf.reshape(_times(rows, x, over_positions=True), kernel.shape))
        return transposed_product(x, kernel), gradient
    return transposed_convolution(x, tf.convert_to_tensor(kernel))


def downsample_image(x, kernel):
    """TensorFlow's convolution of an image of a few channels and its weight gradient;
    its input gradient by patches, which TensorFlow's kernel computes 2.5 times as slowly
    in float32 (writing 3 channels from 64)."""
    return _with_gradients(x, kernel, _convolved, transposed_product, _kernel_gradient)


def upsample_to_image(x, kernel):
    """The transposed convolution to an image of a few channels by patches (the slow
    pass, as in ``downsample_image``), its gradients by TensorFlow's kernels."""
    return _with_gradients(x, kernel, transposed_product, _convolved,
                           lambda x, dy, kernel: _kernel_gradient(dy, x, kernel))


def _with_gradients(x, kernel, product, input_gradient, kernel_gradient):
    """``product(x, kernel)``, linear in each, differentiated as ``input_gradient(dy,
    kernel)`` and ``kernel_gradient(x, dy, kernel)`` for the output's gradient ``dy``."""
    import tensorflow as tf

    @tf.custom_gradient
    def computed(x, kernel):
        def gradient(dy):
            return input_gradient(dy, kernel), kernel_gradient(x, dy, kernel)
        return product(x, kernel), gradient
    return computed(x, tf.convert_to_tensor(kernel))


def _convolved(x, kernel):
    import tensorflow as tf

    return tf.nn.conv2d(x, kernel, STRIDE, "SAME")


def _kernel_gradient(x, dy, kernel):
    """The gradient of ``_convolved(x, kernel)`` in ``kernel``, given the output's ``dy``."""
    import tensorflow as tf

    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(kernel), out_backprop=dy, strides=(1, *STRIDE, 1),
        padding="SAME")


def patches(x):
    """[N, 2h, 2w, C] -> [N, h, w, 16C]: each output position's 4x4 patch of the input
    padded by one pixel (SAME), in the kernel's order (row, column, channel)."""
    return _copying(_patches, x)


def transposed_product(y, kernel):
    """[N, h, w, K] -> [N, 2h, 2w, C], the adjoint of ``patches(x) @ kernel`` in ``x``: at
    every position, ``y`` times the kernel's transpose, each patch entry added to the pixel
    it was taken from (the padding's dropped)."""
    return _copying(_add_back, _times(y, _block_kernel(kernel), transpose_b=True))


def _copying(function, x):
    """``function(x)``, a few copies around the matrix products: compiled by XLA into one
    pass over memory in float32 (TensorFlow's operations make one pass each), and as
    TensorFlow's operations in bfloat16, where they are faster than XLA's."""
    return _xla(function)(x) if x.dtype == "float32" else function(x)


@functools.cache
def _xla(function):
    import tensorflow as tf

    return tf.function(function, jit_compile=True)


# Kernel row 2a + p, column 2b + q reads pixel (p, q) of the 2x2 block (a, b) blocks
# from the position's own, in the padded input's 2x2 blocks (``space_to_depth``).
_BLOCK_TAPS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _patches(x):
    import tensorflow as tf

    blocks = tf.nn.space_to_depth(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 2)
    height, width, channels = x.shape[1] // 2, x.shape[2] // 2, x.shape[3]
    # Contiguous slices of C channels: TensorFlow strides slowly by 2 over pixels.
    return tf.concat([
        blocks[:, a:a + height, b:b + width, (2 * p + q) * channels:(2 * p + q + 1) * channels]
        for a in (0, 1) for p in (0, 1) for b in (0, 1) for q in (0, 1)], axis=-1)


def _block_kernel(kernel):
    """[4, 4, C, K] -> [16C, K], rows in the order (a, b, p, q, channel)."""
    import tensorflow as tf

    taps = tf.reshape(kernel, [2, 2, 2, 2, *kernel.shape[2:]])  # a, p, b, q, C, K
    return tf.reshape(tf.transpose(taps, [0, 2, 1, 3, 4, 5]), [-1, kernel.shape[-1]])


def _add_back(block_rows):
    """[N, h, w, 16C] in ``_block_kernel``'s order -> [N, 2h, 2w, C]: each block tap's
    2x2 blocks of pixels added at their place."""
    import tensorflow as tf

    taps = tf.split(block_rows, len(_BLOCK_TAPS), axis=-1)
    blocks = tf.add_n([tf.pad(tap, [[0, 0], [a, 1 - a], [b, 1 - b], [0, 0]])
                       for tap, (a, b) in zip(taps, _BLOCK_TAPS)])
    return tf.nn.depth_to_space(blocks, 2)[:, 1:-1, 1:-1, :]


def _matrix(kernel):
    """A [4, 4, C, K] kernel as the [16C, K] matrix that multiplies ``patches``."""
    import tensorflow as tf

    return tf.reshape(kernel, (-1, kernel.shape[-1]))


def _times(a, b, transpose_b=False, over_positions=False):
    """``a @ b`` over the last axis of ``a`` at every position; or (``over_positions``)
    the sum over all positions of ``a``'s rows times ``b``'s, a [a channels, b channels]
    matrix."""
    import tensorflow as tf

    rows_a = tf.reshape(a, [-1, a.shape[-1]])
    if over_positions:
        return tf.matmul(rows_a, tf.reshape(b, [-1, b.shape[-1]]), transpose_a=True)
    product = tf.matmul(rows_a, b, transpose_b=transpose_b)
    return tf.reshape(product, tf.concat([tf.shape(a)[:-1], tf.shape(product)[-1:]], 0))


# Saved as the Keras layers they compute the same as (see the module's docstring).
Conv2D.__module__ = Conv2DTranspose.__module__ = "keras.layers"

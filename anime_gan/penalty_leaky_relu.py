"""LeakyReLU for critics whose input gradient is itself differentiated (the WGAN-GP
gradient penalty): the third of the networks' exceptions to plain Keras layers, made
because it pays (see the README's speed section).

LeakyReLU's derivative is piecewise constant, so its second derivative is zero.  TensorFlow
still writes that zero out: differentiating ``LeakyReluGrad`` gives a tensor of zeros for
the activation's input, and the tape carries those zeros back through the whole forward
pass of the penalty's critic (every convolution's weight and input gradient, on zeros).
Here the gradient's mask is taken from the input with the gradient stopped, so the tape
knows the path is not there and skips it.  Every derivative is the same (a test compares
first and second derivatives with Keras's layer); the WGAN-GP's whole step is 15 to 22%
faster in float32 and 15 to 17% in bfloat16 (``docs/speed/penalty_leaky_relu_step.py``).

Other backends use Keras's own code.  Saved, the layer is a plain
``keras.layers.LeakyReLU`` with the same config, so a saved critic loads without this
project.
"""

import keras


class LeakyReLU(keras.layers.LeakyReLU):
    """``keras.layers.LeakyReLU`` whose gradient is not differentiated through the
    activation's input (where the exact second derivative is zero)."""

    def call(self, inputs):
        if keras.backend.backend() != "tensorflow":
            return super().call(inputs)
        return _leaky_relu(inputs, float(self.negative_slope))


def _leaky_relu(inputs, slope):
    import tensorflow as tf

    @tf.custom_gradient
    def leaky_relu(x):
        def gradient(upstream):
            return tf.raw_ops.LeakyReluGrad(
                gradients=upstream, features=tf.stop_gradient(x), alpha=slope)
        return tf.nn.leaky_relu(x, alpha=slope), gradient

    return leaky_relu(inputs)


# Saved as the Keras layer it computes the same as (see the module's docstring).
LeakyReLU.__module__ = "keras.layers"

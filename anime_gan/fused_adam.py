"""Adam whose update is TensorFlow's fused kernel: the training's one exception to plain
Keras optimizers, made because it pays (see the README's speed section).

Keras 3's ``Adam`` updates each variable with about eight operations (moments,
square root, division, assignments), each a pass over memory; TensorFlow's
``ResourceApplyAdam`` (the kernel Keras 2's Adam ran) makes one.  For the DCGAN's
6.6M weights that is 8 instead of 16 ms a step, and the float32 step about 2% faster.

The update is Keras's formula: m += (g - m)(1 - beta_1), v += (g^2 - v)(1 - beta_2),
w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon), with Keras's
moment variables, so checkpoints are Keras's.  Everything else (AMSGrad, sparse
gradients, distribution strategies, other backends, learning-rate schedules, clipping,
weight decay) is Keras's own code.  Saved, the optimizer is a plain
``keras.optimizers.Adam`` with the same config.
"""

import keras
from keras import ops


class Adam(keras.optimizers.Adam):
    """``keras.optimizers.Adam``, each dense update one fused kernel under TensorFlow."""

    def update_step(self, gradient, variable, learning_rate):
        if not self._can_fuse(gradient):
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        if isinstance(variable, keras.Variable):
            variable = variable.value  # TensorFlow's variable, as Keras passes it
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)

        def constant(value):
            return ops.cast(value, dtype)

        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=ops.power(constant(self.beta_1), step),
            beta2_power=ops.power(constant(self.beta_2), step),
            lr=constant(learning_rate), beta1=constant(self.beta_1),
            beta2=constant(self.beta_2), epsilon=constant(self.epsilon),
            grad=constant(gradient))

    def _can_fuse(self, gradient):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return False
        import tensorflow as tf

        # Under a strategy Keras updates each replica's copy of mirrored variables.
        return not (tf.distribute.has_strategy() or isinstance(gradient, tf.IndexedSlices))


# Saved as the Keras optimizer it computes the same as (see the module's docstring).
Adam.__module__ = "keras.optimizers"

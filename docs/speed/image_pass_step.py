"""Does the whole training step gain from the image pass by patches (``anime_gan.
patches_conv``: in float32, the discriminator's first input gradient and the generator's
last output, which write 3 channels, as a matrix product and an adding back)?  Builds a
model with its defaults twice from one seed, once with those two passes TensorFlow's own
(the bottleneck still by patches), and prints the median step of each, timed interleaved,
--repeats times.

    python docs/speed/image_pass_step.py --model=dcgan --precision=float32 --rounds=21
"""

import keras

from anime_gan import patches_conv
from weight_gradient_step import compare_steps, with_keras_layers


def _without_the_image_pass(our_class):
    keras_class = our_class.__bases__[0]

    class Layer(our_class):
        def call(self, inputs, training=None):
            sides = (inputs.shape, self.compute_output_shape(inputs.shape))
            high, low = sides[::-1] if keras_class is keras.layers.Conv2DTranspose else sides
            if training and patches_conv._form(self, high, low) == "image":
                return keras_class.call(self, inputs)
            return super().call(inputs, training)
    return Layer


WITHOUT = {cls: _without_the_image_pass(cls)
           for cls in (patches_conv.Conv2D, patches_conv.Conv2DTranspose)}

if __name__ == "__main__":
    compare_steps(__doc__.split("\n\n")[0], lambda gan: with_keras_layers(gan, WITHOUT),
                  "the image pass by patches", default_model="dcgan",
                  keras_name="TensorFlow's image pass")

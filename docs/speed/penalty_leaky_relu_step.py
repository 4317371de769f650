"""Does the WGAN-GP step gain from ``anime_gan.penalty_leaky_relu`` (the critic's LeakyReLU
without its zero second derivative written out)?  Builds the model with its defaults
twice from one seed, once with Keras's own LeakyReLU, and prints the median step of each
(the n_critic updates and the generator's), timed interleaved, --repeats times.

    python docs/speed/penalty_leaky_relu_step.py --precision=float32 --rounds=10
"""

import keras

from anime_gan import penalty_leaky_relu
from weight_gradient_step import compare_steps, with_keras_layers

KERAS_CLASSES = {penalty_leaky_relu.LeakyReLU: keras.layers.LeakyReLU}

if __name__ == "__main__":
    compare_steps(__doc__.split("\n\n")[0], lambda gan: with_keras_layers(gan, KERAS_CLASSES),
                  "the penalty's LeakyReLU", default_model="wgan")

"""Does the whole training step gain from ``anime_gan.fused_adam`` (Adam's update as
TensorFlow's one fused kernel)?  Builds a model with its defaults twice from one seed,
once with Keras's own Adam (same settings, same variables), and prints the median step of
each, timed interleaved, --repeats times.

    python docs/speed/fused_adam_step.py --model=dcgan --precision=float32 --rounds=21
"""

import keras

from weight_gradient_step import compare_steps


def with_keras_adam(gan):
    for name, network in (("d_optimizer", gan.discriminator), ("g_optimizer", gan.generator)):
        ours = getattr(gan, name)
        keras_adam = keras.optimizers.Adam.from_config(ours.get_config())
        keras_adam.build(network.trainable_variables)
        setattr(gan, name, keras_adam)
    return gan


if __name__ == "__main__":
    compare_steps(__doc__.split("\n\n")[0], with_keras_adam, "fused Adam",
                  default_model="dcgan", keras_name="Keras's Adam")

"""Is the WGAN-GP critic's forward and backward faster on one batch of 128 (real and fake
together; the critic has no batch norm, so each score is the same) than on two of 64?
Prints the median of 15 interleaved calls (``anime_gan.measure.median_times``), twice.

    python docs/speed/critic_one_batch.py float32   # or bfloat16
"""

import sys

import tensorflow as tf

from anime_gan import build_critic
from anime_gan.devices import precision
from anime_gan.measure import median_times


def main(compute_precision):
    with precision(compute_precision):
        critic = build_critic(64)
    real = tf.random.uniform((64, 64, 64, 3), -1, 1)
    fake = tf.random.uniform((64, 64, 64, 3), -1, 1)

    def summed_gradients(loss_of_scores):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                loss = loss_of_scores()
            return tf.add_n([tf.reduce_sum(g)
                             for g in tape.gradient(loss, critic.trainable_weights)])
        return lambda: float(run())

    def two_batches():
        return (tf.reduce_mean(critic(fake, training=True))
                - tf.reduce_mean(critic(real, training=True)))

    def one_batch():
        scores = critic(tf.concat([real, fake], 0), training=True)
        return tf.reduce_mean(scores[64:]) - tf.reduce_mean(scores[:64])

    ways = {"two batches of 64": summed_gradients(two_batches),
            "one batch of 128": summed_gradients(one_batch)}
    for _ in range(2):
        times = median_times(ways, 15)
        print(compute_precision, ", ".join(f"{name} {1000 * t:.1f} ms"
                                           for name, t in times.items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "float32")

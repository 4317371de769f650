"""DCGAN (Radford et al., 2016) with the non-saturating binary cross-entropy losses."""

import tensorflow as tf
from keras import ops

from anime_gan import losses
from anime_gan.models.base import GAN


class DCGAN(GAN):
    """One discriminator update, then one generator update, per batch of real images.

    The discriminator outputs logits; ``real_score`` and ``fake_score`` are its mean
    probabilities D(x) and D(G(z)) during the discriminator update.
    """

    metric_names = ("d_loss", "g_loss", "real_score", "fake_score")

    def train_step(self, real_images):
        real_images = self.checked_real_images(real_images)
        batch_size = ops.shape(real_images)[0]
        # The generator's pass is recorded once and reused by both updates, as the
        # reference implementation does: the tape is entered again for step 2.
        g_tape = tf.GradientTape()
        with g_tape:
            fake_images = self.generator(self.sample_latents(batch_size, after=real_images),
                                         training=True)

        # 1. Update D: maximise log D(x) + log(1 - D(G(z))).
        with tf.GradientTape() as d_tape:
            real_logits = self.discriminate(real_images)
            fake_logits = self.discriminate(fake_images)
            d_loss = losses.discriminator_bce_loss(real_logits, fake_logits)
        self.update_discriminator(d_tape, d_loss)

        # 2. Update G on the same fakes: maximise log D(G(z)) under the updated D.
        with g_tape:
            g_loss = losses.generator_bce_loss(self.discriminate(fake_images))
        self.update_generator(g_tape, g_loss)

        return self.report(
            d_loss=d_loss,
            g_loss=g_loss,
            real_score=ops.mean(ops.sigmoid(real_logits)),
            fake_score=ops.mean(ops.sigmoid(fake_logits)),
        )

"""``CriticLoopGAN``: n_critic discriminator updates, then one generator update.

The training loop of WGAN (Arjovsky et al., 2017, Algorithm 1), WGAN-GP (Gulrajani
et al., 2017, Algorithm 1) and SNGAN (Miyato et al., 2018): each discriminator
(critic) update sees a fresh real batch and fresh fakes, then the generator is
updated on fresh fakes.  The subclasses give the losses and what follows an update.
"""

import tensorflow as tf
from keras import ops

from anime_gan import devices
from anime_gan.errors import check_whole_numbers
from anime_gan.models.base import GAN


class CriticLoopGAN(GAN):
    """Each step takes ``n_critic`` batches of N real images, shaped
    [N, n_critic, H, W, 3] (example-major, so that a distribution strategy can split
    the batch between replicas; [N, H, W, 3] when n_critic is 1).  The metrics of a
    step describe its last discriminator update.
    """

    penalty_passes = 0  # extra discriminator passes of a gradient penalty, per update

    def __init__(self, generator, discriminator, n_critic=5, **kwargs):
        check_whole_numbers(type(self).__name__, n_critic=n_critic)
        super().__init__(generator, discriminator, **kwargs)
        self.n_critic = n_critic

    @property
    def real_batches_per_step(self):
        return self.n_critic

    def step_batch_shape(self):
        """The step's real batches: [N, n_critic, H, W, 3]."""
        image_shape = super().step_batch_shape()[1:]
        return (None, self.n_critic) + image_shape

    def as_step_batches(self, images):
        """With one critic update a step, plain [N, H, W, 3] batches are taken too."""
        if self.n_critic != 1 or images.shape.rank not in (4, None):
            return images
        if images.shape.rank == 4:
            plain_shape = (None,) + self.step_batch_shape()[2:]
            return devices.checked_shape(images, plain_shape, *self.shape_message())[:, None]
        return tf.cond(tf.rank(images) == 4, lambda: images[:, None], lambda: images)

    def shape_message(self):
        n = self.n_critic
        return (f"{type(self).__name__} with n_critic={n} takes {n} real batches a step, "
                f"shaped [N, {n}, H, W, 3]; got",
                f". make_dataset(..., batches_per_step={n}) gives such batches (or reshape "
                f"[{n}N, H, W, 3] to [N, {n}, H, W, 3]); the critic takes images shaped "
                f"[{self.image_shape_text()}]")

    def train_step(self, real_images):
        real_images = self.checked_real_images(real_images)
        batch_size = ops.shape(real_images)[0]

        # 1. n_critic discriminator updates, each on a fresh real batch and fresh fakes.
        for i in range(self.n_critic):
            logs = self.update_critic(real_images[:, i])

        # 2. One generator update on fresh fakes.
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.sample_latents(batch_size, after=real_images),
                                         training=True)
            g_loss = self.generator_loss(self.discriminate(fake_images))
        self.update_generator(tape, g_loss)
        return self.report(g_loss=g_loss, **logs)

    def update_critic(self, real_images):
        """One discriminator update; returns its ``d_loss`` and the subclass's metrics."""
        fake_images = self.generator(
            self.sample_latents(ops.shape(real_images)[0], after=real_images), training=True)
        # Augmented once, so that a penalty is taken between the images scored.
        real_images, fake_images = self.augment(real_images), self.augment(fake_images)
        with tf.GradientTape() as tape:
            real_scores = self.discriminator(real_images, training=True)
            fake_scores = self.discriminator(fake_images, training=True)
            d_loss, logs = self.critic_loss(real_scores, fake_scores, real_images, fake_images)
        self.update_discriminator(tape, d_loss)
        self.after_critic_update()
        return {"d_loss": d_loss, **logs}

    def critic_loss(self, real_scores, fake_scores, real_images, fake_images):
        """(the discriminator's loss, {metric: value}) for one update."""
        raise NotImplementedError

    def generator_loss(self, fake_scores):
        raise NotImplementedError

    def after_critic_update(self):
        """What follows each discriminator update (WGAN clips the weights)."""

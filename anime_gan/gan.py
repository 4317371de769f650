"""DCGAN and WGAN-GP as ``keras.Model`` subclasses with a custom ``train_step``.

``GAN`` holds what both share: the two networks, the latent sampler with its
seed generator, the two optimizers and the metric trackers.  Each subclass's
``train_step`` follows its paper's algorithm.  The gradient tapes make these
steps TensorFlow-specific; everything else is backend-neutral Keras.
"""

import keras
import tensorflow as tf
from keras import ops

from anime_gan import augment, losses


class GAN(keras.Model):
    """Base class: a generator, a discriminator (or critic) and their optimizers.

    ``real_batches_per_step`` is how many batches of real images one
    ``train_step`` consumes; the data pipeline groups batches accordingly.
    """

    metric_names = ("d_loss", "g_loss")
    real_batches_per_step = 1

    def __init__(self, generator, discriminator, seed=None, ema_decay=None, diffaugment=(),
                 **kwargs):
        super().__init__(**kwargs)
        self.diffaugment = tuple(diffaugment)
        self.generator = generator
        self.discriminator = discriminator
        # An exponential moving average of the generator's weights, for sampling.
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self.latent_dim = generator.input_shape[-1]
        self.seed_generator = keras.random.SeedGenerator(seed, name="latent_seed")
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in self.metric_names
        }

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        # No Keras-level optimizer or loss: train_step drives the two optimizers.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build the slots now, outside the traced step, so they can be
        # checkpointed before the first update.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        # Only our trackers: Keras' own loss tracker would log a phantom "loss: 0".
        return list(self.trackers.values())

    def sample_latents(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    @property
    def sampling_generator(self):
        """The generator for samples, export and evaluation: the EMA copy if there is one."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def generate(self, batch_size):
        """Images in [-1, 1] from fresh latents."""
        return self.sampling_generator(self.sample_latents(batch_size), training=False)

    def augment(self, images):
        """DiffAugment of what the discriminator sees; the identity without a policy."""
        return augment.diff_augment(images, self.diffaugment, self.seed_generator)

    def _discriminate(self, images):
        return self.discriminator(self.augment(images), training=True)

    def _generator_step(self, batch_size, generator_loss):
        """One generator update on fresh latents; ``generator_loss`` maps D(G(z)) to a loss."""
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.sample_latents(batch_size), training=True)
            g_loss = generator_loss(self._discriminate(fake_images))
        self._update(tape, g_loss, self.generator, self.g_optimizer)
        self._update_ema()
        return g_loss

    def _update_ema(self):
        """average <- decay * average + (1 - decay) * weight, batch-norm statistics included.

        The decay warms up as min(ema_decay, (1 + t) / (10 + t)) at generator step t, as
        tf.train.ExponentialMovingAverage does with num_updates: otherwise a 0.999 average
        would still be two-thirds the random initial weights after 400 steps.
        """
        if self.ema_generator is None:
            return
        steps = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * ops.cast(weight, average.dtype))

    def _update(self, tape, loss, network, optimizer):
        variables = network.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    def _report(self, **values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


class DCGAN(GAN):
    """DCGAN (Radford et al., 2016) with the non-saturating BCE losses.

    One discriminator update then one generator update per batch.  The
    discriminator outputs logits; ``real_score`` and ``fake_score`` are its mean
    probabilities D(x) and D(G(z)) during the discriminator update.
    """

    metric_names = ("d_loss", "g_loss", "real_score", "fake_score")

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]

        # 1. Update D: maximise log D(x) + log(1 - D(G(z))).
        fake_images = self.generator(self.sample_latents(batch_size), training=True)
        with tf.GradientTape() as tape:
            real_logits = self._discriminate(real_images)
            fake_logits = self._discriminate(fake_images)
            d_loss = losses.discriminator_bce_loss(real_logits, fake_logits)
        self._update(tape, d_loss, self.discriminator, self.d_optimizer)

        # 2. Update G: maximise log D(G(z)).
        g_loss = self._generator_step(batch_size, losses.generator_bce_loss)

        return self._report(
            d_loss=d_loss,
            g_loss=g_loss,
            real_score=ops.mean(ops.sigmoid(real_logits)),
            fake_score=ops.mean(ops.sigmoid(fake_logits)),
        )


class WGANGP(GAN):
    """WGAN-GP (Gulrajani et al., 2017), Algorithm 1.

    Each step takes ``n_critic`` batches of real images, shaped
    [n_critic, N, H, W, 3]: one critic update per batch, then one generator
    update.  ``wasserstein`` is the critic's estimate E[f(x)] - E[f(G(z))].
    """

    metric_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")

    def __init__(self, generator, critic, n_critic=5, gp_weight=10.0, seed=None, **kwargs):
        super().__init__(generator, critic, seed=seed, **kwargs)
        self.n_critic = n_critic
        self.gp_weight = gp_weight

    @property
    def real_batches_per_step(self):
        return self.n_critic

    def train_step(self, real_batches):
        # With n_critic = 1 the pipeline yields plain [N, H, W, 3] batches.
        real_batches = ops.reshape(real_batches,
                                   (self.n_critic, -1) + tuple(real_batches.shape[-3:]))
        for i in range(self.n_critic):
            d_loss, wasserstein, penalty = self._critic_step(real_batches[i])

        g_loss = self._generator_step(ops.shape(real_batches)[1],
                                      losses.generator_wasserstein_loss)

        # Metrics describe the last critic update of the step.
        return self._report(
            d_loss=d_loss, g_loss=g_loss, wasserstein=wasserstein, gradient_penalty=penalty
        )

    def _critic_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self.sample_latents(batch_size), training=True)
        # The penalty is taken between the images the critic actually sees.
        real_images, fake_images = self.augment(real_images), self.augment(fake_images)
        alpha = losses.sample_interpolation_weights(batch_size, self.seed_generator)
        with tf.GradientTape() as tape:
            real_scores = self.discriminator(real_images, training=True)
            fake_scores = self.discriminator(fake_images, training=True)
            critic_loss = losses.critic_wasserstein_loss(real_scores, fake_scores)
            penalty = losses.gradient_penalty(
                self.discriminator, real_images, fake_images, alpha
            )
            d_loss = critic_loss + self.gp_weight * penalty
        self._update(tape, d_loss, self.discriminator, self.d_optimizer)
        return d_loss, -critic_loss, penalty

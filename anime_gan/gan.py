"""DCGAN and WGAN-GP as ``keras.Model`` subclasses with a custom ``train_step``.

``GAN`` holds what both share: the two networks, the latent sampler with its
seed generator, the two optimizers and the metric trackers.  Each subclass's
``train_step`` follows its paper's algorithm.  The gradient tapes make these
steps TensorFlow-specific; everything else is backend-neutral Keras.
"""

import keras
import tensorflow as tf
from keras import ops

from anime_gan import augment, distribute, losses


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
        # The networks come built; without this, fit under a distribution strategy
        # would try to build the GAN by calling it on a batch of images.
        self.built = True

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
        return self._replica_share(
            lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator),
            batch_size)

    @staticmethod
    def _replica_share(sample, batch_size):
        """This replica's ``batch_size`` rows of ``sample(global batch size)``.

        Every replica draws the global batch from the same seed state and keeps
        its own slice, so a step uses the same random numbers on any number of
        replicas (and replicas do not all draw the same latents).
        """
        replicas, index = distribute.replica_position()
        start = index * batch_size
        return sample(batch_size * replicas)[start:start + batch_size]

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    @property
    def generator_steps(self):
        """Generator updates so far.  (int() of a Keras variable fails under a strategy.)"""
        return int(ops.convert_to_numpy(self.g_optimizer.iterations.value))

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

    def _update_generator(self, tape, g_loss):
        self._update(tape, g_loss, self.generator, self.g_optimizer)
        self._update_ema()

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
        """One optimizer step on ``loss``, the mean over this replica's share of the batch.

        The optimizer sums the replicas' gradients, so each replica's gradient is
        weighted by 1 / replicas: the sum is then the gradient of the mean over
        the global batch.  ``scale_loss`` adds float16 loss scaling (the
        optimizer unscales before applying).
        """
        replicas, _ = distribute.replica_position()
        weight = optimizer.scale_loss(ops.cast(1.0 / replicas, "float32"))
        variables = network.trainable_variables
        gradients = tape.gradient(loss, variables, output_gradients=ops.cast(weight, loss.dtype))
        optimizer.apply_gradients(zip(gradients, variables))

    def _report(self, **values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if distribute.in_multi_worker_step():
            # Keras 3 averages multi-worker step outputs over their axis 0, which fails on
            # scalars (tensorflow/tensorflow#72388): give them that axis.
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results


class DCGAN(GAN):
    """DCGAN (Radford et al., 2016) with the non-saturating BCE losses.

    One discriminator update then one generator update per batch.  The
    discriminator outputs logits; ``real_score`` and ``fake_score`` are its mean
    probabilities D(x) and D(G(z)) during the discriminator update.
    """

    metric_names = ("d_loss", "g_loss", "real_score", "fake_score")

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]

        with tf.GradientTape() as g_tape:
            fake_images = self.generator(self.sample_latents(batch_size), training=True)
            with g_tape.stop_recording():
                d_loss, real_logits, fake_logits = self._discriminator_step(real_images,
                                                                           fake_images)
            # 2. Update G on the same fakes, as the reference does (one generator pass
            # per step): maximise log D(G(z)) under the updated D.
            g_loss = losses.generator_bce_loss(self._discriminate(fake_images))
        self._update_generator(g_tape, g_loss)

        return self._report(
            d_loss=d_loss,
            g_loss=g_loss,
            real_score=ops.mean(ops.sigmoid(real_logits)),
            fake_score=ops.mean(ops.sigmoid(fake_logits)),
        )

    def _discriminator_step(self, real_images, fake_images):
        """1. Update D: maximise log D(x) + log(1 - D(G(z)))."""
        with tf.GradientTape() as tape:
            real_logits = self._discriminate(real_images)
            fake_logits = self._discriminate(fake_images)
            d_loss = losses.discriminator_bce_loss(real_logits, fake_logits)
        self._update(tape, d_loss, self.discriminator, self.d_optimizer)
        return d_loss, real_logits, fake_logits


class WGANGP(GAN):
    """WGAN-GP (Gulrajani et al., 2017), Algorithm 1.

    Each step takes ``n_critic`` batches of N real images, shaped
    [N, n_critic, H, W, 3] (example-major, so that a distribution strategy can
    split the batch between replicas; [N, H, W, 3] when n_critic is 1): one
    critic update per batch, then one generator update.  ``wasserstein`` is the
    critic's estimate E[f(x)] - E[f(G(z))].
    """

    metric_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")

    def __init__(self, generator, critic, n_critic=5, gp_weight=10.0, seed=None, **kwargs):
        super().__init__(generator, critic, seed=seed, **kwargs)
        self.n_critic = n_critic
        self.gp_weight = gp_weight

    @property
    def real_batches_per_step(self):
        return self.n_critic

    def train_step(self, real_images):
        if len(real_images.shape) == 4:
            real_images = real_images[:, None]
        real_batches = ops.moveaxis(real_images, 1, 0)  # [n_critic, N, H, W, 3]
        for i in range(self.n_critic):
            d_loss, wasserstein, penalty = self._critic_step(real_batches[i])

        batch_size = ops.shape(real_images)[0]
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.sample_latents(batch_size), training=True)
            g_loss = losses.generator_wasserstein_loss(self._discriminate(fake_images))
        self._update_generator(tape, g_loss)

        # Metrics describe the last critic update of the step.
        return self._report(
            d_loss=d_loss, g_loss=g_loss, wasserstein=wasserstein, gradient_penalty=penalty
        )

    def _critic_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self.sample_latents(batch_size), training=True)
        # The penalty is taken between the images the critic actually sees.
        real_images, fake_images = self.augment(real_images), self.augment(fake_images)
        alpha = self._replica_share(
            lambda n: losses.sample_interpolation_weights(n, self.seed_generator), batch_size)
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

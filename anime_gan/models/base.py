"""``GAN``: what every GAN model shares, as a ``keras.Model`` with a custom ``train_step``.

A GAN holds a generator, a discriminator (or critic), their two optimizers, a
latent sampler with its seed generator, the metric trackers and, optionally, an
exponential moving average of the generator.  The subclasses' ``train_step``s
follow their papers' algorithms; the gradient tapes make those steps
TensorFlow-specific, and ``anime_gan.devices`` holds the distribution and
precision plumbing they call.
"""

import keras
from keras import ops

from anime_gan import augment, devices
from anime_gan.errors import ArgumentTypeError


# The largest absolute value of a real pixel a step takes (see checked_real_images).
MAX_REAL_PIXEL = 1.25


def layers_within(model):
    """Every layer of ``model``: in nested models, in layers of the user's own that hold
    layers, in wrappers (spectral norm's)."""
    return model._flatten_layers(include_self=False, recursive=True)  # Keras's own walk


def _check_networks(generator, discriminator):
    for role, network in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(network, keras.layers.Layer):
            raise ArgumentTypeError(f"{role}: a Keras model (anime_gan.build_{role}()), "
                                    f"not {type(network).__name__}")
    try:
        made, taken = tuple(generator.output_shape[1:]), tuple(discriminator.input_shape[1:])
    except (AttributeError, ValueError):  # a subclassed model not yet called: no shapes
        return
    if len(made) != len(taken) or any(m != t for m, t in zip(made, taken) if None not in (m, t)):
        if len(generator.input_shape[1:]) == 3 and len(discriminator.output_shape[1:]) == 3:
            raise ValueError("the generator given takes images and the discriminator makes "
                             "them: they are swapped; give the generator first, then the "
                             "discriminator")
        raise ValueError(f"the generator makes images of shape {made}, but the discriminator "
                         f"takes {taken}: build both for the same image_size")


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
        _check_networks(generator, discriminator)
        if ema_decay is not None and not 0 <= ema_decay < 1:
            raise ValueError(f"ema_decay={ema_decay}: must be in [0, 1) (0 or None: no average)")
        self.diffaugment = augment.as_policy(diffaugment)
        self.generator = generator
        self.discriminator = discriminator
        # An exponential moving average of the generator's weights, for sampling.
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self._follow_generator = devices.moving_average_update(
                self.ema_generator.weights, generator.weights)
        self.latent_dim = generator.input_shape[-1]
        self.seed_generator = keras.random.SeedGenerator(seed, name="latent_seed")
        # Steps taken, the data stream's position: unlike the optimizer's iterations, it
        # also counts a float16 step whose update the loss scale skipped.
        self.step_counter = keras.Variable(0, dtype="int64", trainable=False, name="step",
                                           aggregation="only_first_replica")
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in self.metric_names
        }
        # The networks come built; without this, fit under a distribution strategy
        # would try to build the GAN by calling it on a batch of images.
        self.built = True

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile=False, **kwargs):
        """The two optimizers: objects, or names such as ``"adam"`` as Keras takes them.
        ``jit_compile`` is off unless asked for (Keras's "auto" would turn XLA on with a
        GPU): it was slower on our CPUs, and under XLA the step's checks of the real
        images (``checked_real_images``) are skipped."""
        if d_optimizer is None or g_optimizer is None or "optimizer" in kwargs or "loss" in kwargs:
            raise ArgumentTypeError(
                f"{type(self).__name__}.compile takes d_optimizer= and g_optimizer=, the "
                "discriminator's and the generator's; its train step gives the losses (no "
                "optimizer= or loss=)")
        d_optimizer, g_optimizer = map(keras.optimizers.get, (d_optimizer, g_optimizer))
        if d_optimizer is g_optimizer:
            raise ValueError(f"{type(self).__name__}.compile: d_optimizer and g_optimizer are "
                             "one optimizer; give each network its own (an optimizer keeps "
                             "state for the variables it updates)")
        # No Keras-level optimizer or loss: train_step drives the two optimizers.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build the slots now, outside the traced step, so they can be
        # checkpointed before the first update.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    def fit(self, x=None, *args, **kwargs):
        if devices.is_dataset(x):  # it brings its own order; Keras would warn of shuffle=True
            kwargs.setdefault("shuffle", False)
        self._trace_again_for_other_batches(x)
        with devices.reported_checks():
            return super().fit(x, *args, **kwargs)

    def train_on_batch(self, x=None, *args, **kwargs):
        self._trace_again_for_other_batches(x)
        with devices.reported_checks():
            return super().train_on_batch(x, *args, **kwargs)

    def _trace_again_for_other_batches(self, x):
        # Keras runs a later fit's batches through the step it traced for the first fit's,
        # even when they are shaped otherwise: that step's static shapes would hide the
        # misfit from the step's shape check, and TensorFlow would stop it deep inside.
        shapes = devices.batch_shapes(x)
        if shapes is None or shapes != getattr(self, "_traced_batch_shapes", None):
            self.train_function = None
        self._traced_batch_shapes = shapes

    def evaluate(self, *args, **kwargs):
        raise NotImplementedError(
            "a GAN has no test loss to evaluate: measure its samples with "
            "anime_gan.evaluate_run(RUN) (FID, KID, precision/recall) or --mode=evaluate")

    def save(self, *args, **kwargs):
        raise NotImplementedError(
            "a GAN is saved as its networks, which are plain Keras models: "
            "gan.generator.save('generator.keras') (gan.sampling_generator for the moving "
            "average), gan.discriminator.save(...); or all weights with "
            "gan.save_weights('gan.weights.h5')")

    @property
    def metrics(self):
        # Only our trackers: Keras' own loss tracker would log a phantom "loss: 0".
        return list(self.trackers.values())

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    @property
    def generator_steps(self):
        """Training steps so far.  (int() of a Keras variable fails under a strategy.)"""
        return int(ops.convert_to_numpy(self.step_counter.value))

    @property
    def sampling_generator(self):
        """The generator for samples, export and evaluation: the EMA copy if there is one."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def generate(self, batch_size):
        """Images in [-1, 1] from fresh latents."""
        return self.sampling_generator(self.sample_latents(batch_size), training=False)

    # --- The pieces of a train_step ---------------------------------------------

    def checked_real_images(self, data):
        """The real images of a batch (``data``, or its first part when it comes with
        labels, as from ``keras.utils.image_dataset_from_directory``), refused unless they
        are float images on the networks' [-1, 1] scale: pixels of 0..255 would train into
        noise.  A little over 1 is allowed, for the overshoot of a resampling filter."""
        images = keras.utils.unpack_x_y_sample_weight(data)[0]
        name, dtype = type(self).__name__, keras.backend.standardize_dtype(images.dtype)
        if "float" not in dtype:
            raise ValueError(f"{name}.fit takes float images in [-1, 1]; got {dtype} batches: "
                             "give images / 127.5 - 1")
        images = devices.checked_shape(self.as_step_batches(images), self.step_batch_shape(),
                                       *self.shape_message(), xla=self.jit_compile is True)
        largest = ops.max(ops.abs(ops.cast(images, "float32")))
        return devices.checked(images, largest <= MAX_REAL_PIXEL,
                               f"{name}.fit takes real images in [-1, 1] (give images / "
                               "127.5 - 1 for 0..255 pixels); this batch reaches", largest)

    def step_batch_shape(self):
        """A step's real images: [N, H, W, 3], as the discriminator takes them (None: any)."""
        return (None,) + tuple(self.discriminator.input_shape[1:])

    def as_step_batches(self, images):
        return images

    def image_shape_text(self):
        """"64, 64, 3": one real image's shape, H, W or C where the discriminator takes any."""
        return ", ".join(name if size is None else str(size)
                         for name, size in zip("HWC", self.step_batch_shape()[-3:]))

    def shape_message(self):
        """What a misshaped batch is told: the words before its shape, and after."""
        return (f"{type(self).__name__}.fit takes real images shaped "
                f"[N, {self.image_shape_text()}], as the discriminator does; got", "")

    def sample_latents(self, batch_size, after=None):
        """z ~ N(0, I): this replica's ``batch_size`` latent vectors, drawn once ``after``
        (a step's checked real images) is computed: a refused batch draws nothing, and so
        changes neither the seed nor the generator's batch-norm statistics."""
        with devices.after(after):
            return devices.replica_share(
                lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator),
                batch_size)

    def augment(self, images):
        """DiffAugment of what the discriminator sees; the identity without a policy.

        In float32 even when the networks compute in bfloat16: on CPU these memory-bound
        operations are faster in float32 (measured), and the discriminator's first layer
        casts its input anyway."""
        return augment.diff_augment(images, self.diffaugment, self.seed_generator)

    def discriminate(self, images):
        """The discriminator's (or critic's) outputs for augmented ``images``."""
        return self.discriminator(self.augment(images), training=True)

    def update_discriminator(self, tape, d_loss):
        devices.apply_gradients(self.d_optimizer, tape, d_loss,
                                self.discriminator.trainable_variables)

    def update_generator(self, tape, g_loss):
        """One generator update, then the moving average follows it; the step is counted."""
        devices.apply_gradients(self.g_optimizer, tape, g_loss,
                                self.generator.trainable_variables)
        self._update_ema()
        with devices.after(g_loss):
            self.step_counter.assign_add(1)

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
        self._follow_generator(decay)

    def report(self, **values):
        """Updates the metric trackers with this step's values; returns the running means."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return devices.step_outputs(
            {name: tracker.result() for name, tracker in self.trackers.items()})

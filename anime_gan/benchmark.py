"""Training speed: python -m anime_gan.benchmark [--models=dcgan,wgan] [--data_dir=PATH].

Fills the image cache, times ``model.fit`` steps after a warm-up and prints
generator steps per second and real images consumed per second, for each model
at the given batch size.
"""

import json
import time

import keras
from absl import app, flags

from anime_gan import data
from anime_gan.config import TrainConfig
from anime_gan.train import build_gan

flags.DEFINE_list("models", ["dcgan", "wgan"], "Models to time.")
flags.DEFINE_integer("batch_size", 64, "Images per batch.")
flags.DEFINE_integer("warmup_steps", 5, "Steps run before timing (tracing, cache fill).")
flags.DEFINE_integer("steps", 30, "Timed generator steps.")
flags.DEFINE_string("data_dir", None, "Image folder; default: the built-in faces.")
flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")
FLAGS = flags.FLAGS


class StepTimer(keras.callbacks.Callback):
    def __init__(self, warmup_steps):
        super().__init__()
        self.warmup_steps = warmup_steps
        self.steps = 0
        self.start = None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.warmup_steps:
            self.start = time.perf_counter()

    def seconds_per_step(self):
        return (time.perf_counter() - self.start) / (self.steps - self.warmup_steps)


def time_training(model, batch_size, warmup_steps, steps, data_dir=None, jit_compile=False):
    config = TrainConfig(model=model, batch_size=batch_size, data_dir=data_dir,
                         jit_compile=jit_compile, output_dir="unused")
    keras.utils.set_random_seed(config.seed)
    gan = build_gan(config)
    stream = data.make_stream(config.image_size, batch_size, data_dir,
                              batches_per_step=gan.real_batches_per_step)
    stream.images.reduce(0, lambda count, _: count + 1)  # decode everything into the cache
    timer = StepTimer(warmup_steps)
    gan.fit(stream.batches(), epochs=1, steps_per_epoch=warmup_steps + steps, callbacks=[timer],
            verbose=0, shuffle=False)
    seconds = timer.seconds_per_step()
    return {
        "model": model, "batch_size": batch_size, "jit_compile": jit_compile,
        "data": data_dir or "built-in", "timed_steps": steps,
        "generator_steps_per_s": 1.0 / seconds,
        "ms_per_generator_step": 1000.0 * seconds,
        "real_images_per_s": batch_size * gan.real_batches_per_step / seconds,
    }


def main(argv):
    results = [time_training(m, FLAGS.batch_size, FLAGS.warmup_steps, FLAGS.steps,
                             FLAGS.data_dir, FLAGS.jit_compile) for m in FLAGS.models]
    print(json.dumps(results, indent=2))
    print(f"{'model':<6} {'batch':>5} {'steps/s':>8} {'ms/step':>8} {'images/s':>9}")
    for r in results:
        print(f"{r['model']:<6} {r['batch_size']:>5} {r['generator_steps_per_s']:>8.3f} "
              f"{r['ms_per_generator_step']:>8.0f} {r['real_images_per_s']:>9.1f}")


if __name__ == "__main__":
    app.run(main)

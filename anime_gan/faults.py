"""Training faults: a loss that is no longer finite, an artifact that cannot be written.

Both stop training with a message that says what happened; the checkpoints and
files written before stay as they were.
"""

import math

import keras
import numpy as np


class TrainingFault(RuntimeError):
    """Training stopped; the message says why and what is left intact."""


class NonFiniteLossError(TrainingFault):
    pass


class ArtifactWriteError(TrainingFault):
    pass


def all_finite(variables):
    return all(np.all(np.isfinite(keras.ops.convert_to_numpy(v))) for v in variables)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises ``NonFiniteLossError`` at the first step whose metrics are NaN or infinite.

    Raising (rather than Keras' ``stop_training``) skips the end-of-epoch
    callbacks, so no NaN weights are saved over good ones.  Place it first.
    """

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            step = self.model.generator_steps
            raise NonFiniteLossError(
                f"training stopped at step {step}: {', '.join(f'{k}={v}' for k, v in bad.items())}. "
                "The newest checkpoint and the run's files are from before this step; "
                "try a lower learning rate, then run the same command to resume.")

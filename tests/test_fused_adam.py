"""Adam by TensorFlow's fused kernel updates as Keras's Adam does, and saves as it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from anime_gan import fused_adam
from anime_gan.config import TrainConfig
from anime_gan.gan_builder import build_gan

SHAPES = [(4, 4, 3, 5), (7,), ()]


def variables_and_gradients(steps, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=shape).astype("float32") for shape in SHAPES]
    gradients = [[rng.normal(size=shape).astype("float32") for shape in SHAPES]
                 for _ in range(steps)]
    return values, gradients


def trained(optimizer, steps=3, compiled=False):
    values, gradients = variables_and_gradients(steps)
    variables = [keras.Variable(v) for v in values]
    optimizer.build(variables)

    def step(grads):
        optimizer.apply_gradients(zip(grads, variables))
    step = tf.function(step) if compiled else step
    for grads in gradients:
        step([tf.constant(g) for g in grads])
    return [v.numpy() for v in variables], optimizer


def assert_same_updates(got, expected, learning_rate):
    """The weights agree to 1e-4 of a step's size: the kernel rounds its own way."""
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-4 * learning_rate)


def fused_kernel_calls(monkeypatch):
    calls = []
    original = tf.raw_ops.ResourceApplyAdam
    def counted(**kwargs):
        calls.append(kwargs["grad"].shape)
        return original(**kwargs)
    monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam", counted)
    return calls


@pytest.mark.parametrize("compiled", [False, True])
def test_the_fused_update_equals_keras_adam(compiled, monkeypatch):
    calls = fused_kernel_calls(monkeypatch)
    settings = dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-6)
    expected, _ = trained(keras.optimizers.Adam(**settings), compiled=compiled)
    assert calls == []
    got, optimizer = trained(fused_adam.Adam(**settings), compiled=compiled)
    assert len(calls) == len(SHAPES) * (1 if compiled else 3)
    assert int(optimizer.iterations.numpy()) == 3
    assert_same_updates(got, expected, settings["learning_rate"])


def test_two_steps_computed_by_hand():
    lr, b1, b2, eps = 0.1, 0.5, 0.9, 1e-7
    (values, gradients) = variables_and_gradients(2)
    got, optimizer = trained(fused_adam.Adam(lr, b1, b2, eps), steps=2)
    w, m, v = values[1].astype("float64"), 0.0, 0.0
    for t, grads in enumerate(gradients, start=1):
        g = grads[1].astype("float64")
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(got[1], w, rtol=1e-5)
    np.testing.assert_allclose(optimizer._momentums[1].numpy(), m, rtol=1e-5)
    np.testing.assert_allclose(optimizer._velocities[1].numpy(), v, rtol=1e-5)


def test_amsgrad_and_schedules_are_keras_own(monkeypatch):
    calls = fused_kernel_calls(monkeypatch)
    expected, _ = trained(keras.optimizers.Adam(0.01, amsgrad=True))
    got, _ = trained(fused_adam.Adam(0.01, amsgrad=True))
    assert calls == []
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 1, 0.5)
    expected, _ = trained(keras.optimizers.Adam(schedule))
    got, _ = trained(fused_adam.Adam(schedule))
    assert calls
    assert_same_updates(got, expected, 0.01)


def test_under_float16_loss_scaling():
    settings = dict(learning_rate=0.01, beta_1=0.5)
    results = [trained(keras.optimizers.LossScaleOptimizer(cls(**settings)))[0]
               for cls in (keras.optimizers.Adam, fused_adam.Adam)]
    assert_same_updates(results[1], results[0], 0.01)


def test_saved_as_keras_adam_with_keras_variables():
    optimizer = fused_adam.Adam(0.003, beta_1=0.2)
    config = keras.saving.serialize_keras_object(optimizer)
    assert (config["module"], config["class_name"]) == ("keras.optimizers", "Adam")
    loaded = keras.saving.deserialize_keras_object(config)
    assert type(loaded) is keras.optimizers.Adam
    assert loaded.get_config() == optimizer.get_config()
    # A run checkpointed with Keras's Adam resumes with this one.
    _, theirs = trained(keras.optimizers.Adam(0.01))
    store = {}
    theirs.save_own_variables(store)
    _, ours = trained(fused_adam.Adam(0.01), steps=1)
    ours.load_own_variables(store)
    assert len(ours.variables) == len(theirs.variables) == 2 + 2 * len(SHAPES)
    for mine, keras_own in zip(ours.variables, theirs.variables):
        np.testing.assert_array_equal(mine.numpy(), keras_own.numpy())


def test_the_models_train_with_it():
    gan = build_gan(TrainConfig(model="dcgan", output_dir="unused"))
    assert type(gan.d_optimizer) is type(gan.g_optimizer) is fused_adam.Adam
    rmsprop = build_gan(TrainConfig(model="wgan_clip", output_dir="unused"))
    assert type(rmsprop.d_optimizer) is keras.optimizers.RMSprop

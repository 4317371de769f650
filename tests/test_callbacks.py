"""The training callbacks: TensorBoard logs, the --eval_every KID."""

import numpy as np
import pytest

import anime_gan
from conftest import history_epochs, tensorboard_steps, tensorboard_tags


def test_tensorboard_logs_step_and_epoch_metrics_and_samples(shared_run):
    """Two epochs of one step: step metrics at generator steps 1 and 2, epoch metrics and
    sample grids at epochs 1 and 2, numbered as history.csv and samples/ number them."""
    train_steps = tensorboard_steps(shared_run / "logs" / "train")
    for name in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert train_steps[f"batch_{name}"] == [1, 2]
        assert train_steps[f"epoch_{name}"] == history_epochs(shared_run) == [1, 2]
    assert tensorboard_steps(shared_run / "logs" / "samples")["samples"] == [1, 2]


def test_a_resume_from_an_earlier_checkpoint_logs_no_step_twice(trained_run, session_data):
    """A kill after the second epoch's events were written but before its checkpoint:
    the run resumes from epoch 1 and logs step 2 and epoch 2 again, once."""
    newest = max(trained_run.glob("checkpoints/ckpt-*.index"),
                 key=lambda path: int(path.stem.split("-")[1]))
    for path in trained_run.glob(f"checkpoints/{newest.stem}.*"):
        path.unlink()
    event_file = next((trained_run / "logs" / "train").glob("events.out.tfevents.*"))
    with open(event_file, "ab") as f:
        f.write(b"\x10\x00\x00")  # a record cut short by the kill
    anime_gan.train(model="dcgan", epochs=2, steps_per_epoch=1, batch_size=4, seed=3,
                    data_dir=str(session_data), output_dir=str(trained_run))
    train_steps = tensorboard_steps(trained_run / "logs" / "train")
    for name in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert train_steps[f"batch_{name}"] == [1, 2]
        assert train_steps[f"epoch_{name}"] == [1, 2]
    assert tensorboard_steps(trained_run / "logs" / "samples")["samples"] == [1, 2]
    assert len(list((trained_run / "logs" / "train").glob("events.out.tfevents.*"))) == 2


@pytest.mark.long
def test_eval_every_logs_kid_to_history_and_tensorboard(image_folder, tiny_backbone, tmp_path):
    out = tmp_path / "run"
    anime_gan.train(model="dcgan", epochs=2, steps_per_epoch=1, batch_size=4,
                    data_dir=image_folder, output_dir=str(out), eval_every=2,
                    eval_samples=12, backbone=tiny_backbone)
    rows = (out / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "kid" in header and history_epochs(out) == [1, 2]
    kid = [row.split(",")[header.index("kid")] for row in rows[1:]]
    assert kid[0] == "" and np.isfinite(float(kid[1]))  # only at epoch 2
    assert "epoch_kid" in tensorboard_tags(out / "logs" / "train")
    assert (out / "kid.png").is_file()


@pytest.mark.parametrize("backbone", ["missing.keras", "not_a_network.keras"])
def test_eval_every_with_a_bad_feature_network_stops_before_the_run_is_made(
        backbone, image_folder, tmp_path):
    (tmp_path / "not_a_network.keras").write_text("not a Keras file")
    out = tmp_path / "run"
    settings = dict(model="dcgan", epochs=1, steps_per_epoch=1, batch_size=4,
                    data_dir=image_folder, output_dir=str(out), eval_every=1,
                    eval_samples=12, backbone=str(tmp_path / backbone))
    with pytest.raises(anime_gan.ConfigError, match="--backbone"):
        anime_gan.train(**settings)
    assert not (out / "config.json").exists() and not (out / "checkpoints").exists()
    with pytest.raises(anime_gan.ConfigError, match="--backbone"):  # not "a run exists"
        anime_gan.train(**settings, resume=False)


def test_a_kept_history_rows_missing_epoch_metrics_are_logged_once(tmp_path):
    import tensorflow as tf

    from anime_gan import event_files

    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    with writer.as_default():
        tf.summary.scalar("epoch_d_loss", 1.5, step=1)
        tf.summary.scalar("batch_d_loss", 1.4, step=3)
    writer.close()
    row = {"epoch": "2", "d_loss": "0.25", "g_loss": "2.5", "kid": ""}  # no KID this epoch
    assert not event_files.log_missing_epoch_metrics(str(tmp_path), 1, row)  # logged already
    assert event_files.log_missing_epoch_metrics(str(tmp_path), 2, row)
    assert not event_files.log_missing_epoch_metrics(str(tmp_path), 2, row)
    assert tensorboard_steps(tmp_path / "train") == {
        "epoch_d_loss": [1, 2], "batch_d_loss": [3], "epoch_g_loss": [2]}
    values = {}
    for path in (tmp_path / "train").iterdir():
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                values[value.tag, event.step] = float(tf.make_ndarray(value.tensor))
    assert values["epoch_d_loss", 2] == 0.25 and values["epoch_g_loss", 2] == 2.5


class _AtStep:
    generator_steps = 3


NOTHING_KEPT = ("No checkpoint was saved before it, so no step of this run is kept; try a "
                "lower learning rate, then run the same command (with --output_dir={run}) to "
                "start it again.")


@pytest.mark.parametrize("checkpoint, says", [
    (None, NOTHING_KEPT),
    ("checkpoint", NOTHING_KEPT),  # an index listing a checkpoint whose files are gone
    ("ckpt-1.index", "The newest checkpoint and the run's files are from before this step; "
                     "try a lower learning rate, then run the same command (with "
                     "--output_dir={run}) to resume."),
])
def test_a_nan_stop_says_whether_a_checkpoint_keeps_earlier_steps(tmp_path, checkpoint, says):
    from anime_gan.callbacks import StopOnNonFiniteLoss
    from anime_gan.errors import NonFiniteLossError

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    if checkpoint == "checkpoint":
        (run / "checkpoints" / checkpoint).write_text(
            'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n')
    elif checkpoint:
        (run / "checkpoints" / checkpoint).write_bytes(b"")
    stop = StopOnNonFiniteLoss(str(run))
    stop.set_model(_AtStep())
    stop.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": 1.0})  # finite: no stop
    with pytest.raises(NonFiniteLossError) as error:
        stop.on_train_batch_end(0, {"d_loss": float("nan"), "g_loss": 1.0})
    assert str(error.value) == f"training stopped at step 3: d_loss=nan. {says.format(run=run)}"

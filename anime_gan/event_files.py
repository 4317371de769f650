"""A run's TensorBoard event files when it resumes: what a kill left after the checkpoint
is dropped (the resumed run logs those steps again), and the epoch metrics of a history
row written before a kill but never logged are filled in from that row."""

import os

import tensorflow as tf

from anime_gan.files import temporary_name

TRAIN_LOGS = "train"  # Keras's TensorBoard callback writes the training metrics here


def truncate_event_files(log_dir, step, epoch, metrics_epoch=None):
    """Drops the TensorBoard events logged after the checkpoint a run resumes from, which
    the resumed run logs again (a run killed between them would show those steps twice):
    per-step metrics after generator step ``step``, sample grids after epoch ``epoch``,
    and epoch metrics (``epoch_*``) after epoch ``metrics_epoch`` (default ``epoch``; one
    more for an epoch whose steps all ran and whose metrics were written before a stop).
    Only each folder's newest event file, the last process's, can hold such events; a
    record cut short by the kill is dropped too."""
    bounds = (step, epoch, epoch if metrics_epoch is None else metrics_epoch)
    for newest in _newest_event_files(log_dir):
        records, cut_short = _event_records(newest)
        kept = [record for record in records if not _logged_after(record, *bounds)]
        if len(kept) < len(records) or cut_short:
            # The temporary name lacks "tfevents", so TensorBoard never reads a leftover.
            tmp = os.path.join(os.path.dirname(newest), temporary_name("trimmed-events"))
            with tf.io.TFRecordWriter(tmp) as writer:
                for record in kept:
                    writer.write(record)
            os.replace(tmp, newest)


def _newest_event_files(log_dir):
    for directory, _, names in os.walk(log_dir):
        paths = [os.path.join(directory, n) for n in names if ".tfevents." in n]
        if paths:
            yield max(paths, key=os.path.getmtime)


def _event_records(path):
    """(the file's whole records, whether a record after them was cut short)."""
    records = []
    try:
        for record in tf.data.TFRecordDataset(path, buffer_size=1 << 20):
            records.append(record.numpy())
    except tf.errors.DataLossError:
        return records, True
    return records, False


def _step_and_tags(record):
    event = tf.compat.v1.Event.FromString(record)
    return event.step, [value.tag for value in event.summary.value]


def _holds_epoch_metrics(tags):
    return any(tag.startswith("epoch_") for tag in tags)


def _logged_after(record, step, epoch, metrics_epoch):
    logged_at, tags = _step_and_tags(record)
    if _holds_epoch_metrics(tags):
        return logged_at > metrics_epoch
    return bool(tags) and logged_at > (epoch if "samples" in tags else step)


def log_missing_epoch_metrics(log_dir, epoch, row):
    """Logs ``history.csv``'s ``row`` of epoch ``epoch`` (counted from 1) as that epoch's
    TensorBoard metrics, unless they are logged already: a kill between the row and the
    TensorBoard callback left the row without them."""
    train_dir = os.path.join(log_dir, TRAIN_LOGS)
    if epoch in _epochs_logged(train_dir):
        return False
    writer = tf.summary.create_file_writer(train_dir)
    with writer.as_default():
        for name, value in row.items():
            if name != "epoch" and _is_number(value):  # a --eval_every column can be empty
                tf.summary.scalar(f"epoch_{name}", float(value), step=epoch)
    writer.close()
    return True


def _epochs_logged(train_dir):
    """The steps of the ``epoch_*`` events in every event file of ``train_dir``."""
    epochs = set()
    if not os.path.isdir(train_dir):
        return epochs
    for name in os.listdir(train_dir):
        if ".tfevents." in name:
            for record in _event_records(os.path.join(train_dir, name))[0]:
                logged_at, tags = _step_and_tags(record)
                if _holds_epoch_metrics(tags):
                    epochs.add(logged_at)
    return epochs


def _is_number(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True

"""history.csv and its plots."""

import sys

from PIL import Image

from anime_gan import history


def test_damaged_history_rows_are_dropped(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,d_loss,g_loss\n1,0.5,1.5\n2,0.4,1.6\n3,0.3")  # cut mid-row
    assert [row["epoch"] for row in history.read_rows(str(path))] == ["1", "2"]
    history.truncate(str(path), 1)
    assert path.read_text().splitlines() == ["epoch,d_loss,g_loss", "1,0.5,1.5"]


def test_a_resume_says_how_many_damaged_rows_it_left_out(tmp_path, caplog):
    path = tmp_path / "history.csv"
    path.write_text("epoch,d_loss,g_loss\n1,0.5,1.5\nx\x00\x00\n3,0.3,1.2\n4,0.2")
    history.truncate(str(path), 5)  # nothing to drop by epoch: the damage alone is said
    assert caplog.messages == [f"{path}: left out 2 damaged row(s); those epochs' metrics are "
                               "lost, the training itself is in the checkpoints"]
    assert path.read_text().splitlines() == ["epoch,d_loss,g_loss", "1,0.5,1.5", "3,0.3,1.2"]
    caplog.clear()
    history.truncate(str(path), 5)
    assert caplog.messages == []


def test_append_epoch_replaces_that_epoch_and_later_ones(tmp_path):
    path = str(tmp_path / "history.csv")
    for epoch, loss in [(1, 0.5), (2, 0.4), (3, 0.3)]:
        history.append_epoch(path, epoch, {"d_loss": loss})
    history.append_epoch(path, 2, {"d_loss": 0.25, "kid": 0.01})  # a resumed epoch 2
    assert history.read_history(path)["epoch"] == [1.0, 2.0]
    assert history.read_history(path)["d_loss"] == [0.5, 0.25]


def test_plots_are_written_for_the_metrics_present_without_pyplot(tmp_path):
    path = str(tmp_path / "history.csv")
    history.append_epoch(path, 1, {"d_loss": 1.0, "g_loss": 2.0, "wasserstein": 3.0,
                                   "gradient_penalty": 0.1})
    history.append_epoch(path, 2, {"d_loss": 0.9, "g_loss": 1.8, "wasserstein": 2.0,
                                   "gradient_penalty": 0.2})
    written = history.plot_history(path, str(tmp_path))
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["losses.png", "wasserstein.png"]
    assert Image.open(tmp_path / "losses.png").size[0] > 100
    assert "matplotlib.pyplot" not in sys.modules or not __import__(
        "matplotlib.pyplot").pyplot.get_fignums()  # no pyplot figure left open


def test_the_epoch_axis_shows_whole_epochs_also_for_one_epoch():
    for epochs in ([1.0], [1.0, 2.0, 3.0]):
        figure = history.draw_plot({"epoch": epochs, "d_loss": [0.5] * len(epochs)},
                                   "losses", ["d_loss"])
        axis = figure.axes[0]
        low, high = axis.get_xlim()
        shown = [tick for tick in axis.get_xticks() if low <= tick <= high]
        assert shown and all(float(tick).is_integer() for tick in shown), (epochs, shown)

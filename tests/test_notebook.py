"""Jupyter: figures shown once, LiveView, the Kaggle data, and the quick-start notebook
executed in a real kernel.

The fast tests stand in for IPython with a fake ``IPython`` module that records what is
displayed; the kernel tests run real Jupyter kernels through nbclient.
"""

import base64
import json
import os
import sys
import types

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import anime_gan
from anime_gan import notebook
from conftest import REPO_ROOT, restored_state

QUICKSTART = os.path.join(REPO_ROOT, "notebooks", "quickstart.ipynb")


class FakeShell:
    """What the code uses of a Jupyter kernel's IPython shell."""

    def __init__(self, in_kernel=True):
        self.kernel = object() if in_kernel else None
        self.execution_count = 1
        self.handlers = []
        self.events = types.SimpleNamespace(
            register=lambda event, handler: self.handlers.append((event, handler)))

    def end_cell(self):
        for event, handler in self.handlers:
            if event == "post_run_cell":
                handler(None)
        self.execution_count += 1


def fake_ipython_module(shell):
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    ipython.version_info = (9, 0)  # matplotlib looks at it
    return ipython


@pytest.fixture
def fake_ipython(monkeypatch):
    """A fake IPython in a kernel; ``.published`` lists (kind, bundle, display_id)."""
    shell = FakeShell()
    shell.published = []
    ipython = fake_ipython_module(shell)
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = lambda data, display_id=None, raw=False: shell.published.append(
        ("display", data, display_id))
    ipython_display.update_display = lambda data, display_id, raw=False: shell.published.append(
        ("update", data, display_id))
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    return shell


def png_size(bundle):
    """(width, height) of a bundle's PNG."""
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def faces(count):
    return np.random.default_rng(0).integers(0, 256, (count, 64, 64, 3), dtype=np.uint8)


# --- Figures shown once -----------------------------------------------------------------

def test_what_to_run_again_names_the_run_folder_a_default_one_would_not_find(fake_ipython,
                                                                              monkeypatch):
    import pathlib
    assert notebook.the_same_call("train", pathlib.Path("runs/x")) == \
        "train() call (with output_dir='runs/x')"
    assert notebook.the_same_call("generate_run") == "generate_run() call"
    monkeypatch.setattr(notebook, "in_notebook", lambda: False)
    assert notebook.the_same_call("train", "runs/x") == "command (with --output_dir=runs/x)"


def test_a_finished_run_in_a_notebook_names_the_keyword_that_trains_it_further(
        fake_ipython, trained_run, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="anime_gan"):
        anime_gan.train(output_dir=str(trained_run), live=False)
    assert "has finished its 2 epoch(s): nothing to train (a higher epochs= trains it " \
        "further)" in caplog.text


def test_show_grid_displays_once_per_cell(fake_ipython):
    figure = anime_gan.show_grid(faces(8), rows=2)
    assert [kind for kind, _, _ in fake_ipython.published] == ["display"]
    width, height = png_size(fake_ipython.published[0][1])
    assert abs(width - 4 * 64) <= 12 and abs(height - 2 * 64) <= 12  # a pixel per pixel
    # As the cell's last line, IPython echoes the returned figure: nothing more is shown.
    figure._ipython_display_()
    assert len(fake_ipython.published) == 1
    # In a later cell the figure shows again, once.
    fake_ipython.end_cell()
    figure._ipython_display_()
    figure._ipython_display_()
    assert len(fake_ipython.published) == 2


def test_show_grid_takes_one_image_like_an_interpolation_grid(fake_ipython):
    grid = anime_gan.interpolation_grid(anime_gan.build_generator(16, 64), rows=2, steps=3)
    figure = anime_gan.show_grid(grid)
    assert figure.axes[0].get_images()[0].get_array().shape == (2 * 64, 3 * 64, 3)
    assert len(fake_ipython.published) == 1


def test_show_grid_in_a_script_shows_nothing_and_returns_a_savable_figure(tmp_path,
                                                                          monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    figure = anime_gan.show_grid(faces(6), title="six")
    assert figure.axes[0].get_images()[0].get_array().shape == (2 * 64, 3 * 64, 3)
    figure.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_terminal_ipython_shows_no_picture(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython_module(FakeShell(in_kernel=False)))
    figure = anime_gan.show_grid(faces(4))
    figure._ipython_display_()
    assert "Figure" in capsys.readouterr().out


def test_show_history_plots_each_metric_group(fake_ipython, shared_run):
    figure = anime_gan.show_history(shared_run)
    titles = {ax.get_title() for ax in figure.findobj(matplotlib.axes.Axes)}
    assert {"Losses", "Mean D(x) and D(G(z))"} <= titles
    assert len(fake_ipython.published) == 1


def test_figures_leave_matplotlib_global_state_alone(fake_ipython, shared_run, tmp_path):
    from anime_gan import history

    backend = matplotlib.rcParams._get_backend_or_none()
    figures_before = plt.get_fignums()
    anime_gan.show_grid(faces(4))
    anime_gan.show_history(shared_run)
    history.plot_history(os.path.join(shared_run, "history.csv"), tmp_path)
    view = _drive_live_view(fake_ipython, epochs=1, steps=2)
    view.figure()
    assert matplotlib.rcParams._get_backend_or_none() == backend
    assert plt.get_fignums() == figures_before


# --- LiveView ---------------------------------------------------------------------------

class FakeGAN:
    """What LiveView reads of a GAN: its sampling generator and generator step count."""

    def __init__(self):
        self.sampling_generator = anime_gan.build_generator(16, 64)
        self.generator_steps = 100


def _drive_live_view(shell, epochs, steps, view=None, losses=None):
    """Runs LiveView's hooks as ``fit`` would, with Keras' running-mean logs of ``losses``."""
    view = view or anime_gan.LiveView(num_images=4)
    view.set_model(FakeGAN())
    losses = losses if losses is not None else np.arange(epochs * steps, dtype=float)
    view.on_train_begin()
    for epoch in range(epochs):
        view.on_epoch_begin(epoch)
        values = losses[epoch * steps:(epoch + 1) * steps]
        for batch in range(steps):
            mean = float(np.mean(values[:batch + 1]))
            view.on_train_batch_end(batch, {"d_loss": mean, "g_loss": 2 * mean})
        view.on_epoch_end(epoch, {})
    view.on_train_end()
    return view


@pytest.mark.parametrize("arguments, message", [
    (dict(num_images=0), "LiveView: num_images=0 must be a whole number, at least 1"),
    (dict(num_images=2.5), "num_images=2.5 must be a whole number"),
    (dict(seed=-1), "seed=-1 must be a whole number in"),
    (dict(every_steps=0), "every_steps=0 must be a whole number, at least 1"),
    (dict(latents=np.zeros(16)), r"latents shaped \(16,\): give \[N, latent_dim\]"),
    (dict(latents=np.zeros((0, 16))), r"latents shaped \(0, 16\)"),
])
def test_live_view_refuses_what_it_cannot_draw_when_made(arguments, message):
    with pytest.raises(ValueError, match=message):
        anime_gan.LiveView(**arguments)


def test_live_view_refuses_latents_the_generator_does_not_take_before_training(fake_ipython):
    view = anime_gan.LiveView(latents=np.zeros((4, 100)))
    view.set_model(FakeGAN())
    with pytest.raises(ValueError, match="its latents have 100 values each, and the "
                                         "generator takes 16"):
        view.on_train_begin()
    assert fake_ipython.published == []


def test_live_view_updates_one_display_in_place(fake_ipython):
    losses = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0])
    view = _drive_live_view(fake_ipython, epochs=3, steps=2, losses=losses)
    kinds = [kind for kind, _, _ in fake_ipython.published]
    # Drawn when training begins, then replaced after each epoch.
    assert kinds == ["display", "update", "update", "update"]
    assert len({display_id for _, _, display_id in fake_ipython.published}) == 1
    assert all(png_size(bundle)[0] > 300 for _, bundle, _ in fake_ipython.published)
    # Each step's own loss, recovered from the running means, numbered by generator step.
    assert view.steps == [101, 102, 103, 104, 105, 106]
    np.testing.assert_allclose(view.values["d_loss"], losses)
    np.testing.assert_allclose(view.values["g_loss"], 2 * losses)


def test_live_view_draws_every_steps_and_a_new_display_per_cell(fake_ipython):
    view = anime_gan.LiveView(num_images=4, every_steps=2)
    _drive_live_view(fake_ipython, epochs=1, steps=4, view=view)
    # When training begins, then at steps 102 and 104 (the epoch's end: nothing new).
    assert [kind for kind, _, _ in fake_ipython.published] == ["display", "update", "update"]
    # A second fit in the same cell (train() finishing an epoch first) keeps the display;
    _drive_live_view(fake_ipython, epochs=1, steps=1, view=view)
    assert len({display_id for _, _, display_id in fake_ipython.published}) == 1
    # a fit in a later cell gets its own.
    fake_ipython.end_cell()
    _drive_live_view(fake_ipython, epochs=1, steps=1, view=view)
    assert fake_ipython.published[-2][0] == "display"
    assert len({display_id for _, _, display_id in fake_ipython.published}) == 2


@pytest.mark.long
def test_train_interrupted_in_a_notebook_redraws_and_stops_without_kerass_traceback(
        fake_ipython, image_folder, tmp_path):
    """Ctrl-C in a cell: the picture shows the last steps, and the cell's traceback is
    train()'s line, not Keras's fit loop (the run was saved, and a log line says so)."""
    import traceback

    import keras

    class CtrlCAtStep2(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise KeyboardInterrupt

    view = anime_gan.LiveView()
    with pytest.raises(KeyboardInterrupt) as caught:
        anime_gan.train(model="dcgan", epochs=1, steps_per_epoch=3, batch_size=4,
                        data_dir=image_folder, output_dir=tmp_path / "run",
                        callbacks=[view, CtrlCAtStep2()])
    assert [kind for kind, _, _ in fake_ipython.published] == ["display", "update"]
    assert view.steps == [1, 2]
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert [frame.name for frame in frames][-1] == "train"
    assert not any("keras" in frame.filename for frame in frames)
    assert caught.value.__suppress_context__


@pytest.mark.long
def test_the_interrupt_button_mid_step_stops_with_the_picture_at_the_saved_step(
        fake_ipython, image_folder, tmp_path):
    """Jupyter's interrupt is a SIGINT: it lands while a step runs, which ends and is seen
    by the live view before the stop saves; one step's losses show as a point."""
    import signal

    import keras

    class InterruptDuringStep2(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                signal.raise_signal(signal.SIGINT)

    view = anime_gan.LiveView()
    with pytest.raises(KeyboardInterrupt):
        anime_gan.train(model="dcgan", epochs=1, steps_per_epoch=3, batch_size=4,
                        data_dir=image_folder, output_dir=tmp_path / "run",
                        callbacks=[InterruptDuringStep2(), view])
    assert view.steps == [1, 2] and restored_state(tmp_path / "run").step == 2
    assert fake_ipython.published[-1][1]["text/plain"] == "<LiveView: step 2>"
    view.steps, view.values = [2], {key: [1.0] for key in view.values}
    lines = view.figure().axes[1].get_lines()
    assert [line.get_marker() for line in lines][1::2] == ["o"] * (len(lines) // 2)


@pytest.mark.long
def test_a_callback_that_raises_leaves_the_picture_at_the_saved_step(fake_ipython, image_folder,
                                                                    tmp_path):
    import keras

    class Bug(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise RuntimeError("a bug in the caller's callback")

    view = anime_gan.LiveView(every_steps=100)
    with pytest.raises(RuntimeError, match="a bug in the caller's callback"):
        anime_gan.train(model="dcgan", epochs=1, steps_per_epoch=3, batch_size=4,
                        data_dir=image_folder, output_dir=tmp_path / "run",
                        callbacks=[view, Bug()])
    assert view.steps == [1, 2] and restored_state(tmp_path / "run").step == 2
    assert fake_ipython.published[-1][1]["text/plain"] == "<LiveView: step 2>"


def test_generate_run_interrupted_in_a_notebook_says_so_in_one_line(fake_ipython, trained_run,
                                                                   monkeypatch, caplog):
    import traceback

    from anime_gan import commands

    def save_until_interrupted(path, image):
        if path.endswith("00002.png"):
            raise KeyboardInterrupt
        return save_image(path, image)

    save_image = commands.save_image
    monkeypatch.setattr(commands, "save_image", save_until_interrupted)
    with pytest.raises(KeyboardInterrupt) as caught:
        anime_gan.generate_run(str(trained_run), 4, seed=5)
    assert "the same generate_run() call writes them all again" in caplog.text
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert [frame.name for frame in frames][1:] == ["generate_run"]  # after this test's own


def test_live_view_in_the_fit_of_a_model_that_is_no_gan_says_so(fake_ipython):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(TypeError, match="^LiveView shows a GAN's samples; Sequential has no "
                                        "generator"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 1)), epochs=1, verbose=0,
                  callbacks=[anime_gan.LiveView()])


def test_live_view_outside_a_notebook_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    view = _drive_live_view(None, epochs=1, steps=2)
    assert view.display_id is None and view.steps == []


# --- Finding the Anime Face Dataset on Kaggle -------------------------------------------

def test_find_anime_faces_in_kaggle_input(tmp_path):
    from conftest import write_image

    assert notebook.find_anime_faces(str(tmp_path)) is None
    write_image(str(tmp_path / "other-data" / "cats" / "0.jpg"), faces(1)[0])
    os.makedirs(tmp_path / "anime-faces-empty")
    assert notebook.find_anime_faces(str(tmp_path)) is None
    write_image(str(tmp_path / "animefacedataset" / "images" / "0.jpg"), faces(1)[0])
    assert notebook.find_anime_faces(str(tmp_path)) == str(tmp_path / "animefacedataset")
    assert notebook.find_anime_faces(str(tmp_path / "nowhere")) is None


# --- The notebooks, executed in real Jupyter kernels -------------------------------------

class RecordingClient(NotebookClient):
    """nbclient's client, recording (cell index, message type, display id) of every
    display message."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.displays = []

    def process_message(self, msg, cell, cell_index):
        content = msg["content"]
        if msg["msg_type"] in ("display_data", "update_display_data", "execute_result"):
            display_id = (content.get("transient") or {}).get("display_id")
            self.displays.append((cell_index, msg["msg_type"], display_id,
                                  sorted(content.get("data", {}))))
        return super().process_message(msg, cell, cell_index)


def kernel_spec_dir(tmp_path):
    """A kernel spec that runs this interpreter (and so this project), wherever CI's
    venv is; PYTHONPATH in the kernel's environment points at this work tree."""
    spec = tmp_path / "kernels" / "anime-gan-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "anime-gan tests", "language": "python"}))
    return str(tmp_path / "kernels")


def execute(nb, tmp_path, timeout=300, **environment):
    """Runs every cell of ``nb`` in a fresh kernel in ``tmp_path``; returns the client."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="anime-gan-test", kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[kernel_spec_dir(tmp_path)]))
    client = RecordingClient(nb, km=manager, timeout=timeout, allow_errors=True,
                             resources={"metadata": {"path": str(tmp_path)}})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]),
        TF_CPP_MIN_LOG_LEVEL="2", **environment)
    client.execute(env=env)
    return client


def errors(nb):
    return [(i, "".join(c.source)[:60], o.get("ename"), o.get("evalue"))
            for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.outputs if o.output_type == "error"]


def stream_text(cell):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def images_in(cell):
    return [o for o in cell.outputs if "image/png" in o.get("data", {})]


def test_display_rule_in_a_real_kernel(tmp_path):
    """One picture per show_grid, also with pyplot's inline figure formatter active."""
    cells = [
        "import matplotlib, matplotlib.pyplot as plt\n"
        "backend = matplotlib.get_backend(); plt.figure(); plt.close('all')",
        "import anime_gan, numpy as np\nimages = np.zeros((4, 64, 64, 3), np.uint8)",
        "anime_gan.show_grid(images)",                           # last line
        "figure = anime_gan.show_grid(images)\nprint('shown')",  # not the last line
        "figure",                                                # again, in a later cell
        "anime_gan.show_grid(images); anime_gan.show_grid(images)",
        "print(anime_gan.__file__)\nassert matplotlib.get_backend() == backend",
        "anime_gan.train(epochs=0)",  # a user's mistake: its one line, not the library's frames
        "import keras\nanime_gan.train(callbacks=[keras.callbacks.ReduceLROnPlateau()])",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    execute(nb, tmp_path)
    assert [error[:3] for error in errors(nb)] == [
        (7, "anime_gan.train(epochs=0)", "ConfigError"), (8, cells[8][:60], "ArgumentTypeError")]
    assert nb.cells[7].outputs[-1]["traceback"] == ["ConfigError: --epochs=0: must be at least 1"]
    assert nb.cells[8].outputs[-1]["traceback"] == [
        "TypeError: train: keras.callbacks.ReduceLROnPlateau steers a model's one optimizer, and "
        "a GAN has two: set the learning rates in a callback of your own "
        "(self.model.g_optimizer.learning_rate = ..., and d_optimizer), or give g_lr and d_lr "
        "to a continued run"]
    assert [len(images_in(cell)) for cell in nb.cells] == [0, 0, 1, 1, 1, 2, 0, 0, 0]
    nb.cells[-2:] = []
    assert stream_text(nb.cells[-1]).startswith(os.path.join(REPO_ROOT, "anime_gan"))


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """The quick-start notebook executed tiny (ANIME_GAN_QUICK=1): (notebook, client).

    About a minute (a kernel, TensorFlow, two short trainings, an export), so its tests
    are slow ones; the fast tests above cover the same parts with a fake IPython."""
    tmp_path = tmp_path_factory.mktemp("quickstart")
    nb = nbformat.read(QUICKSTART, as_version=4)
    # Two cells the stored notebook does not have: matplotlib's state before and after.
    check = ("import matplotlib, sys\nprint(matplotlib.get_backend(), "
             "sys.modules['matplotlib.pyplot'].get_fignums() if 'matplotlib.pyplot' in "
             "sys.modules else [])")
    nb.cells.insert(0, nbformat.v4.new_code_cell(check))
    nb.cells.append(nbformat.v4.new_code_cell(check))
    client = execute(nb, tmp_path, ANIME_GAN_QUICK="1", ANIME_GAN_DATA_DIR="")
    return nb, client


@pytest.mark.slow
def test_quickstart_runs_without_errors(quickstart):
    nb, _ = quickstart
    assert errors(nb) == []
    assert stream_text(nb.cells[0]) == stream_text(nb.cells[-1])  # backend, no pyplot figures


@pytest.mark.slow
def test_quickstart_picture_cells_show_images(quickstart):
    nb, _ = quickstart
    tagged = [cell for cell in nb.cells if "picture" in cell.metadata.get("tags", [])]
    assert len(tagged) >= 4
    for cell in tagged:
        assert images_in(cell), cell.source


@pytest.mark.slow
def test_quickstart_live_view_is_one_display_updated_in_place(quickstart):
    nb, client = quickstart
    live = [i for i, cell in enumerate(nb.cells) if "live" in cell.metadata.get("tags", [])]
    assert len(live) == 2
    for index in live:
        messages = [m for m in client.displays if m[0] == index]
        assert messages and messages[0][1] == "display_data"
        assert {m[1] for m in messages[1:]} == {"update_display_data"}
        assert len({m[2] for m in messages}) == 1 and messages[0][2]
        assert all("image/png" in m[3] for m in messages)
        assert len(images_in(nb.cells[index])) == 1


@pytest.mark.slow
def test_quickstart_messages_reach_the_notebook_once(quickstart):
    nb, _ = quickstart
    first, resumed = [nb.cells[i] for i, cell in enumerate(nb.cells)
                      if "live" in cell.metadata.get("tags", [])]
    text = stream_text(first)
    assert text.count("Training dcgan; writing the run to runs/quickstart") == 1
    assert text.count("built-in cartoon faces") == 1
    assert stream_text(resumed).count("Resuming runs/quickstart at epoch 2") == 1
    everything = "".join(stream_text(c) for c in nb.cells if c.cell_type == "code")
    assert "INFO:tensorflow" not in everything

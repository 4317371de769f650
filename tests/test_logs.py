"""The library's messages: shown once, by absl's handler on the command line and by the
fallback handler in IPython when nothing else shows them."""

import io
import logging
import sys

import pytest

from anime_gan import logs


class Stderr:
    """What the test wrote to stderr so far (``getvalue()``, like a StringIO)."""

    def __init__(self, capsys):
        self.capsys, self.text = capsys, ""

    def getvalue(self):
        self.text += self.capsys.readouterr().err
        return self.text


def drop_pytest_handlers():
    """pytest puts its capturing handlers on the root logger as each test's call starts."""
    logging.root.handlers.clear()


@pytest.fixture
def bare_logging(monkeypatch, capsys):
    """Logging as a fresh Jupyter kernel has it: no handlers, the root at WARNING; and
    stderr captured.  Everything is put back afterwards."""
    library, tensorflow = logging.getLogger("anime_gan"), logging.getLogger("tensorflow")
    levels = {logger: logger.level for logger in (library, tensorflow)}
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(library, "handlers", [])
    monkeypatch.setattr(library, "propagate", True)
    monkeypatch.setattr(tensorflow, "propagate", tensorflow.propagate)
    library.setLevel(logging.NOTSET)
    yield Stderr(capsys)
    logging.root.handlers = []  # pytest removes the handlers it adds from a restored list
    for logger, level in levels.items():
        logger.setLevel(level)


def test_setup_outside_ipython_changes_nothing(bare_logging, monkeypatch):
    drop_pytest_handlers()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not logs.setup()
    assert logging.getLogger("anime_gan").handlers == []
    logging.getLogger("anime_gan.training").info("Training dcgan")
    assert bare_logging.getvalue() == ""


def test_messages_show_once_before_and_after_a_root_handler_appears(bare_logging):
    drop_pytest_handlers()
    assert logs.setup(force=True)
    assert logs.setup(force=True)  # twice, as a re-import would: still one handler
    assert len(logging.getLogger("anime_gan").handlers) == 1
    logger = logging.getLogger("anime_gan.training")
    logger.info("Training dcgan")
    assert bare_logging.getvalue() == "INFO:anime_gan.training:Training dcgan\n"

    # TensorFlow's first absl log call runs basicConfig(); the root's handler shows it now.
    logging.basicConfig()
    logger.info("Resuming")
    logger.warning("Interrupted")
    assert bare_logging.getvalue().splitlines() == [
        "INFO:anime_gan.training:Training dcgan", "INFO:anime_gan.training:Resuming",
        "WARNING:anime_gan.training:Interrupted"]


def test_a_plain_script_that_set_up_no_logging_shows_the_messages_of_train(bare_logging,
                                                                           monkeypatch):
    """``train`` calls ``setup_for_a_script``: a script shows which data trains and where
    the run goes (not only its progress bar); one that configured logging keeps its own."""
    drop_pytest_handlers()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert logs.setup_for_a_script()
    logging.getLogger("anime_gan.training").info("Training dcgan")
    assert bare_logging.getvalue() == "INFO:anime_gan.training:Training dcgan\n"


@pytest.mark.parametrize("configured", ["root handler", "library level"])
def test_a_script_that_set_up_logging_keeps_it(bare_logging, monkeypatch, configured):
    drop_pytest_handlers()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    if configured == "root handler":
        logging.root.addHandler(logging.StreamHandler(io.StringIO()))
    else:
        logging.getLogger("anime_gan").setLevel(logging.ERROR)
    assert not logs.setup_for_a_script()
    assert logging.getLogger("anime_gan").handlers == []
    logging.getLogger("anime_gan.training").info("Training dcgan")
    assert bare_logging.getvalue() == ""


def test_a_script_whose_root_handler_absl_made_shows_the_messages_of_train_once(
        bare_logging, monkeypatch):
    """absl's first log call (TensorFlow's, while ``export_generator`` saves) runs a bare
    ``basicConfig()`` when the root has no handler: that is no set-up of the script's."""
    import absl.logging

    drop_pytest_handlers()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    absl.logging.info("Function `serving_default` contains input name(s) ...")
    assert len(logging.root.handlers) == 1  # made by absl, as a bare basicConfig() does:
    # the two are alike, so a script's own bare basicConfig() shows the messages too
    assert logs.setup_for_a_script()
    logging.getLogger("anime_gan.training").info("Training dcgan")
    assert bare_logging.getvalue() == "INFO:anime_gan.training:Training dcgan\n"


@pytest.mark.parametrize("settings", [dict(level=logging.INFO), dict(format="%(message)s"),
                                      dict(stream=io.StringIO())])
def test_a_script_that_called_basic_config_with_settings_keeps_it(bare_logging, monkeypatch,
                                                                  settings):
    drop_pytest_handlers()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    logging.basicConfig(**settings)
    assert not logs.setup_for_a_script()
    assert logging.getLogger("anime_gan").handlers == []


def test_a_level_the_user_set_is_kept(bare_logging):
    drop_pytest_handlers()
    logging.getLogger("anime_gan").setLevel(logging.WARNING)
    logs.setup(force=True)
    logging.getLogger("anime_gan.training").info("Training dcgan")
    assert bare_logging.getvalue() == ""


def test_a_root_handler_too_strict_for_the_record_leaves_it_to_the_fallback(bare_logging):
    drop_pytest_handlers()
    root_handler = logging.StreamHandler(io.StringIO())
    root_handler.setLevel(logging.ERROR)
    logging.root.addHandler(root_handler)
    logs.setup(force=True)
    logging.getLogger("anime_gan.training").info("Training dcgan")
    assert bare_logging.getvalue() == "INFO:anime_gan.training:Training dcgan\n"
    assert root_handler.stream.getvalue() == ""


def test_tensorflow_python_logger_is_turned_down(bare_logging):
    drop_pytest_handlers()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.INFO)  # as TensorFlow sets it in interactive sessions
    logs.setup(force=True)
    assert tf.get_logger().getEffectiveLevel() == logging.WARNING
    tf.get_logger().info("Assets written to: export")
    tf.get_logger().warning("a warning")
    assert "Assets" not in bare_logging.getvalue()


def test_tensorflows_routine_info_through_absl_is_dropped_the_users_is_not(bare_logging,
                                                                            monkeypatch):
    drop_pytest_handlers()
    absl_logger = logging.getLogger("absl")
    monkeypatch.setattr(absl_logger, "filters", [])
    logging.basicConfig(level=logging.INFO)  # the user's, in the notebook's first cell
    logs.setup(force=True)

    def log(path, level, message):
        absl_logger.handle(absl_logger.makeRecord("absl", level, path, 1, message, (), None))

    saving = "/env/lib/python3.11/site-packages/tensorflow/python/checkpoint/checkpoint.py"
    log(saving, logging.INFO, "Sharding callback duration: 33 microseconds")
    log(saving, logging.WARNING, "a warning of TensorFlow's")
    log("/home/me/train_more.py", logging.INFO, "the user's own line")
    assert bare_logging.getvalue().splitlines() == [
        "WARNING:absl:a warning of TensorFlow's", "INFO:absl:the user's own line"]


def test_only_the_retracing_warning_of_kerass_per_model_function_is_dropped(caplog):
    import anime_gan  # noqa: F401  (puts the filter in place)

    tf_logger = logging.getLogger("tensorflow")
    keras_function = ("<function TensorFlowTrainer._make_function.<locals>."
                      "multi_step_on_iterator at 0x7f>")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        tf_logger.warning("6 out of the last 6 calls to %s triggered tf.function retracing. "
                          "Tracing is expensive", keras_function)
        tf_logger.warning("5 out of the last 5 calls to <function my_step at 0x7f> triggered "
                          "tf.function retracing. Tracing is expensive")
        tf_logger.warning("another warning")
    assert [r.getMessage()[:30] for r in caplog.records] == [
        "5 out of the last 5 calls to <", "another warning"]


def test_command_line_shows_each_message_once(session_main):
    _, result = session_main
    assert result.stderr.count("Training dcgan; writing the run to") == 1

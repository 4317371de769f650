"""``--data_dir=kaggle:OWNER/NAME``, with a fake ``kagglehub`` module: no test touches the network."""

import sys
import types

import numpy as np
import pytest

from anime_gan import TrainConfig, cli
from anime_gan.data import kaggle as kaggle_download
from anime_gan.data import pipeline as data
from anime_gan.errors import ConfigError
from anime_gan.errors import DataError
from conftest import write_image


class HTTPError(Exception):
    def __init__(self, message, status):
        super().__init__(message)
        self.response = types.SimpleNamespace(status_code=status)


class UnauthenticatedError(Exception):
    pass


def fake_kagglehub(monkeypatch, result=None, error=None, credentials=None):
    """Installs a fake ``kagglehub``; returns the list of handles it was asked for."""
    calls = []

    def dataset_download(handle, path=None, force_download=False):
        calls.append(handle)
        if error:
            raise error
        return result

    module = types.ModuleType("kagglehub")
    module.dataset_download = dataset_download
    module.config = types.SimpleNamespace(get_kaggle_credentials=lambda: credentials)
    monkeypatch.setitem(sys.modules, "kagglehub", module)
    return calls


@pytest.fixture
def kaggle_cache(tmp_path):
    """What kagglehub leaves in its cache for soumikrakshit/anime-faces: data/data/*.png."""
    folder = tmp_path / "kagglehub" / "datasets" / "soumikrakshit" / "anime-faces" / "versions" / "1"
    rng = np.random.default_rng(0)
    for i in range(5):
        write_image(str(folder / "data" / "data" / f"{i}.png"),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    (folder / "data" / "data" / "notes.txt").write_text("not an image")
    return str(folder)


def test_kaggle_data_dir_is_downloaded_into_kagglehubs_cache_and_read(monkeypatch, kaggle_cache):
    calls = fake_kagglehub(monkeypatch, result=kaggle_cache)
    images, count = data.load_images(64, data_dir="kaggle:soumikrakshit/anime-faces")
    assert calls == ["soumikrakshit/anime-faces"]
    assert count == 5
    assert next(iter(images.batch(8))).shape == (5, 64, 64, 3)


def test_folders_are_not_sent_to_kaggle(monkeypatch, kaggle_cache):
    calls = fake_kagglehub(monkeypatch, result="/elsewhere")
    assert kaggle_download.local_data_dir(kaggle_cache) == kaggle_cache
    assert kaggle_download.local_data_dir(None) is None
    assert calls == []


def test_pinned_version_is_passed_on(monkeypatch, kaggle_cache):
    calls = fake_kagglehub(monkeypatch, result=kaggle_cache)
    path = kaggle_download.download("kaggle:splcher/animefacedataset/versions/3")
    assert (path, calls) == (kaggle_cache, ["splcher/animefacedataset/versions/3"])


def test_without_kagglehub_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # import kagglehub raises ImportError
    with pytest.raises(DataError) as error:
        kaggle_download.download("kaggle:splcher/animefacedataset")
    assert str(error.value) == (
        "--data_dir=kaggle:splcher/animefacedataset: needs the kagglehub package: pip install "
        "kagglehub (or install anime-gan[kaggle]); or download the data set by hand and give "
        "its folder (see README)")


@pytest.mark.parametrize("error, credentials, message", [
    (UnauthenticatedError("User is not authenticated"), None,
     "Kaggle wants an account for this download and no credentials were found: put your "
     "Kaggle API token in ~/.kaggle/kaggle.json or set KAGGLE_USERNAME and KAGGLE_KEY "
     "(kaggle.com > Settings > API > Create New Token)"),
    (HTTPError("403 Client Error: Forbidden", 403), None,
     "Kaggle wants an account for this download and no credentials were found: put your "
     "Kaggle API token in ~/.kaggle/kaggle.json or set KAGGLE_USERNAME and KAGGLE_KEY "
     "(kaggle.com > Settings > API > Create New Token)"),
    (HTTPError("401 Client Error: Unauthorized", 401), object(),
     "Kaggle refused the download (401 Client Error: Unauthorized); check your credentials "
     "and accept the data set's terms on its Kaggle page"),
    (HTTPError("404 Client Error: Not Found\nmore", 404), object(),
     "no such data set on Kaggle (404 Client Error: Not Found); check the handle, e.g. "
     "kaggle:splcher/animefacedataset"),
    (ConnectionError("Max retries exceeded\nwith url"), None,
     "the download failed (ConnectionError: Max retries exceeded); check the connection, or "
     "use a pinned version already in the cache (kaggle:OWNER/NAME/versions/N) or the "
     "folder itself"),
])
def test_download_failures_are_one_line(monkeypatch, tmp_path, error, credentials, message):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "empty"))
    fake_kagglehub(monkeypatch, error=error, credentials=credentials)
    with pytest.raises(DataError) as raised:
        kaggle_download.download("kaggle:splcher/animefacedataset")
    assert str(raised.value) == f"--data_dir=kaggle:splcher/animefacedataset: {message}"


def test_offline_an_unpinned_handle_uses_the_newest_cached_version(monkeypatch, tmp_path,
                                                                    kaggle_cache, caplog):
    """kagglehub asks Kaggle for the newest version first: offline, what it downloaded
    before (versions 1 and 3 here) trains all the same, with a warning."""
    versions = tmp_path / "kagglehub" / "datasets" / "soumikrakshit" / "anime-faces" / "versions"
    (versions / "3").mkdir()
    (versions / "3.complete").write_text("")
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    fake_kagglehub(monkeypatch, error=ConnectionError("Max retries exceeded\nwith url"))
    assert kaggle_download.download("kaggle:soumikrakshit/anime-faces") == str(versions / "3")
    assert ("Kaggle could not be reached (ConnectionError: Max retries exceeded): using the "
            "newest version in kagglehub's cache, kaggle:soumikrakshit/anime-faces/versions/3"
            ) in caplog.messages
    with pytest.raises(DataError, match="refused the download"):  # not for other failures
        fake_kagglehub(monkeypatch, error=HTTPError("401 Client Error", 401),
                       credentials=object())
        kaggle_download.download("kaggle:soumikrakshit/anime-faces")


@pytest.mark.parametrize("value", ["kaggle:animefacedataset", "kaggle:a/b/c",
                                   "kaggle:splcher/animefacedataset/versions/x", "kaggle:"])
def test_malformed_handles_are_refused_by_the_config(value):
    with pytest.raises(ConfigError) as error:
        TrainConfig(data_dir=value)
    assert str(error.value) == (
        f"--data_dir={value}: expected kaggle:OWNER/NAME or kaggle:OWNER/NAME/versions/N, "
        "e.g. kaggle:splcher/animefacedataset")


def test_config_accepts_a_kaggle_handle_without_a_folder_check():
    config = TrainConfig(data_dir="kaggle:soumikrakshit/anime-faces")
    assert config.data_dir == "kaggle:soumikrakshit/anime-faces"


def test_cli_without_credentials_exits_2_in_one_line(monkeypatch, tmp_path, capsys):
    fake_kagglehub(monkeypatch, error=UnauthenticatedError("User is not authenticated"))
    config = TrainConfig(data_dir="kaggle:soumikrakshit/anime-faces",
                         output_dir=str(tmp_path / "run"))
    with pytest.raises(SystemExit) as exit:
        cli.run(config)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --data_dir=kaggle:soumikrakshit/anime-faces: Kaggle wants an "
                          "account for this download and no credentials were found")
    assert err.count("\n") == 1

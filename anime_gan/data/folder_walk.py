"""Which files of a data folder are looked at, each once: hidden files and folders and
the caches' files are left out, linked folders are followed (each real folder once, under
its own name where the walk reaches it), run folders inside are skipped, and of the names
of one file (links, hard links), one is kept."""

import collections
import json
import os

from anime_gan.data.file_cache import is_cache_file
from anime_gan.errors import DataError

SAME_FILE = "a link to a file read under another name"
RUN_FOLDER = "a training run's folder (its sample grids are outputs, not data)"


def walk_folders(data_dir, skipped):
    """os.walk that follows linked folders, each real folder once (no loops), and counts
    unreadable folders as skipped instead of stopping (``one_name_each`` then keeps one
    name of each file)."""
    seen, top = set(), os.path.realpath(data_dir)

    def unreadable(error):
        skipped["unreadable folder (permission denied)" if isinstance(error, PermissionError)
                else f"unreadable folder ({error.strerror})"].append(error.filename)

    for root, dirs, files in os.walk(data_dir, onerror=unreadable, followlinks=True):
        identity = _identity(root)
        if identity in seen:
            dirs[:] = []  # a link back to a folder already read
            continue
        seen.add(identity)
        if is_run_folder(dirs, files):
            if root == data_dir:
                raise DataError(f"--data_dir={data_dir}: is {RUN_FOLDER}; give the folder "
                                "that holds the images")
            skipped[RUN_FOLDER].append(root)
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not _reached_under_its_own_name(os.path.join(root, d), top))
        yield root, sorted(f for f in files if not (f.startswith(".") or is_cache_file(f)))


def _reached_under_its_own_name(folder, top):
    """Whether ``folder`` is a link to a folder inside ``top`` that the walk reaches
    anyway, by its own name (none of its folders hidden): read there, not as the link."""
    if not os.path.islink(folder):
        return False
    target = os.path.relpath(os.path.realpath(folder), top)
    return not target.startswith(os.pardir) and not any(
        part.startswith(".") for part in target.split(os.sep) if part != os.curdir)


def one_name_each(paths, skipped):
    """``paths`` with each file once, not trained on twice: of the names of one file (links,
    hard links), the first that is not a symbolic link stays; the others are skipped."""
    names = collections.defaultdict(list)
    for path in paths:
        names[_identity(path)].append(path)
    kept = {next((path for path in group if not os.path.islink(path)), group[0])
            for group in names.values()}
    if len(kept) < len(paths):
        skipped[SAME_FILE] += [path for path in paths if path not in kept]
    return [path for path in paths if path in kept]


def _identity(path):
    """What ``path`` names: (device, inode), its real path where the file system gives
    no inode (0), or the path itself when nothing is there."""
    try:
        status = os.stat(path)
    except OSError:
        return path
    return (status.st_dev, status.st_ino) if status.st_ino else os.path.realpath(path)


def is_run_folder(dirs, files):
    """Whether a folder is a run (config.json beside checkpoints/, samples/ or history)."""
    return "config.json" in files and (
        "history.csv" in files or {"checkpoints", "samples"} & set(dirs))


def enclosing_run(path):
    """The run folder that holds ``path`` at any depth (its samples/, export/...), or None."""
    folder = os.path.realpath(path)
    while (parent := os.path.dirname(folder)) != folder:
        folder = parent
        if _is_a_run(folder):
            return folder
    return None


def run_inside(path, levels=2):
    """A run folder up to ``levels`` folders below ``path`` (hidden ones and ``path``
    itself not counted), or None."""
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except OSError:  # not there (yet), or not a folder
        return None
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
            continue
        if _is_a_run(entry.path):
            return entry.path
        found = levels > 1 and run_inside(entry.path, levels - 1)
        if found:
            return found
    return None


def _is_a_run(folder):
    try:
        entries = os.listdir(folder)
    except OSError:  # not there (yet), or unreadable
        return False
    return "config.json" in entries and is_run_folder(
        [e for e in entries if os.path.isdir(os.path.join(folder, e))], entries) and \
        _is_a_runs_config(os.path.join(folder, "config.json"))


def _is_a_runs_config(path):
    """Whether ``path`` is an anime-gan run's config.json, not another project's."""
    try:
        with open(path) as f:
            settings = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(settings, dict) and {"model", "image_size", "latent_dim"} <= set(settings)

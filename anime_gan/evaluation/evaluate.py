"""``evaluate_run``: FID, KID and precision/recall of a run's generator, written to eval.json."""

import logging
import os
import time

from anime_gan.data.kaggle import is_kaggle
from anime_gan.errors import ConfigError, DataError, check_one_data_source, check_whole_numbers
from anime_gan.evaluation import metrics
from anime_gan.evaluation.backbones import load_backbone
from anime_gan.evaluation.features import (generated_features, real_features,
                                           warn_of_fewer_real_images)
from anime_gan.files import append_json_line, read_json, save_json, user_path
from anime_gan.run_folder import RunFolder, data_gone, runs_cache_dir
from anime_gan.run_folder.lock import run_lock
from anime_gan.notebook import the_same_call
from anime_gan.sampling import load_generator_and_source
from anime_gan.stop_signals import sigterm_interrupts

logger = logging.getLogger(__name__)

KID_SUBSETS = 100
PR_K = 3
MIN_REAL_IMAGES = 10  # as --num_samples: fewer make the statistics meaningless


def compare(real, fake, kid_subsets=KID_SUBSETS, kid_subset_size=None, k=PR_K):
    """FID, KID (mean, std) and precision/recall between two feature sets.

    KID's subsets are ``metrics.kid_subset_size`` of the two sets unless given."""
    if kid_subset_size is None:
        kid_subset_size = metrics.kid_subset_size(len(real), len(fake))
    fid = metrics.frechet_distance(*metrics.feature_statistics(real),
                                   *metrics.feature_statistics(fake))
    kid_mean, kid_std = metrics.kernel_inception_distance(real, fake, kid_subsets,
                                                          kid_subset_size)
    precision, recall = metrics.precision_recall(real, fake, k=k)
    return {"fid": fid, "kid_mean": kid_mean, "kid_std": kid_std,
            "precision": precision, "recall": recall}


def evaluate_run(run_dir, num_samples=10_000, data_dir=None, dataset=None,
                 backbone=None, backbone_weights=None, seed=0, tfds_data_dir=None):
    """Compares a run's newest generator with real images; returns the report.

    Writes ``RUN/eval.json`` with the results and every setting that produced them, and
    adds the same report to ``RUN/evals.jsonl``, which keeps every evaluation of the run.
    Without ``data_dir`` or ``dataset`` it uses the run's own training data; without
    ``backbone``, the run's own (its ``--eval_every`` one), which is inception by default.
    """
    check_whole_numbers("evaluate_run", MIN_REAL_IMAGES, num_samples=num_samples)
    run_dir = user_path(run_dir, "evaluate_run")
    check_one_data_source(data_dir, dataset)
    with run_lock(run_dir, create=False), sigterm_interrupts():
        try:
            return _evaluate_run(run_dir, num_samples, data_dir, dataset, backbone,
                                 backbone_weights, seed, tfds_data_dir)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM
            logger.warning("Stopped: %s is as it was; the same %s evaluates the run",
                           RunFolder(run_dir).eval_report, the_same_call("evaluate_run"))
            raise


def _absolute(data_dir):
    if not data_dir or is_kaggle(data_dir):
        return data_dir
    return os.path.abspath(os.path.expanduser(data_dir))


def _evaluate_run(run_dir, num_samples, data_dir, dataset, backbone, backbone_weights, seed,
                  tfds_data_dir):
    started = time.perf_counter()
    run_dir = os.path.abspath(run_dir)  # eval.json names the run, its generator and data fully
    folder = RunFolder(run_dir)
    config = folder.read_config()
    _check_reports_are_files(folder)  # before minutes of work that could not be written
    if not data_dir and not dataset:
        data_dir, dataset = _the_runs_data(config, run_dir)
    tfds_data_dir = tfds_data_dir or config.tfds_data_dir
    if backbone is None:
        backbone, backbone_weights = config.backbone, backbone_weights or config.backbone_weights
    backbone, backbone_weights = (path and os.path.expanduser(path)  # as eval.json names them
                                  for path in (backbone, backbone_weights))
    network = load_backbone(backbone, backbone_weights)
    generator, generator_source = load_generator_and_source(run_dir)  # before decoding data
    cache_dir = runs_cache_dir(config, data_dir)[0]  # where it is: none is made elsewhere
    real = real_features(network, config.image_size, num_samples, data_dir, dataset, seed,
                         tfds_data_dir, config.max_image_pixels,
                         cache_dir=cache_dir if cache_dir and os.path.isdir(cache_dir) else None)
    _check_real_count(len(real), data_dir or dataset)
    warn_of_fewer_real_images(len(real), num_samples, "--num_samples", data_dir, dataset)
    fake = generated_features(generator, network, num_samples, seed)
    subset_size = metrics.kid_subset_size(len(real), len(fake))
    report = {
        **compare(real, fake, kid_subset_size=subset_size),
        "settings": {"run": os.path.abspath(run_dir), "generator": generator_source,
                     "data_dir": _absolute(data_dir), "dataset": dataset,
                     "real_images": len(real), "generated_images": len(fake),
                     "image_size": config.image_size, "backbone": backbone,
                     "backbone_key": network.key,
                     "backbone_weights": backbone_weights if backbone == "inception" else None,
                     "num_samples": num_samples, "tfds_data_dir": tfds_data_dir,
                     "seed": seed, "kid_subsets": KID_SUBSETS,
                     "kid_subset_size": subset_size, "pr_k": PR_K},
        "seconds": round(time.perf_counter() - started, 1),
    }
    _keep(report, folder)
    return report


def _keep(report, folder):
    """``eval.json`` is the newest report; ``evals.jsonl`` keeps each one, oldest first (with
    an ``eval.json`` from before it existed as its first line), so none is lost."""
    if not os.path.exists(folder.eval_reports) and os.path.exists(folder.eval_report):
        try:
            append_json_line(folder.eval_reports, read_json(folder.eval_report))
        except (OSError, ValueError) as error:
            logger.warning("The earlier %s does not read (%s); it is not kept in %s",
                           folder.eval_report, error, folder.eval_reports)
    append_json_line(folder.eval_reports, report)
    save_json(folder.eval_report, report)


def _the_runs_data(config, run_dir):
    if gone := data_gone(config, run_dir):
        raise DataError(gone)
    return config.data_dir, config.dataset


def _check_reports_are_files(folder):
    for path in (folder.eval_report, folder.eval_reports):
        if os.path.exists(path) and not os.path.isfile(path):
            raise ConfigError(f"{path} is not a file: the evaluation is written there; "
                              "move it away, then evaluate again")


def _check_real_count(count, source):
    if count < MIN_REAL_IMAGES:
        flag = "--dataset" if str(source).startswith("tfds:") else "--data_dir"
        raise DataError(f"{flag}={source}: only {count} usable real image(s); the evaluation "
                        f"needs at least {MIN_REAL_IMAGES}")

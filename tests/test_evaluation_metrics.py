import itertools

import numpy as np
import pytest

from anime_gan.evaluation import metrics


def random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_distance_of_diagonal_gaussians_in_closed_form():
    # For diagonal covariances: ||mu1-mu2||^2 + sum(s1 + s2 - 2 sqrt(s1 s2)).
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 1 + 0 + 4 + (1 + 4 - 4) + (4 + 1 - 4) + (9 + 9 - 18)
    assert metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)
    assert expected == 7


def test_frechet_distance_in_one_dimension():
    # (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2.
    assert metrics.frechet_distance([3.0], [[4.0]], [1.0], [[1.0]]) == pytest.approx(4 + 1)


def test_frechet_distance_of_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    sigma = random_covariance(rng, 8)
    mu = rng.normal(size=8)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_trace_sqrt_product_matches_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    for d in (2, 16, 64):
        s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
        expected = np.trace(linalg.sqrtm(s1 @ s2)).real
        assert metrics.trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_of_sampled_gaussians_approaches_the_truth():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(20000, 4))
    b = rng.normal(loc=[1.0, 0, 0, 0], scale=[1.0, 2.0, 1.0, 1.0], size=(20000, 4))
    distance = metrics.frechet_distance(*metrics.feature_statistics(a),
                                        *metrics.feature_statistics(b))
    assert distance == pytest.approx(1.0 + (1 + 4 - 2 * 2), abs=0.1)  # = 2


def brute_force_mmd2(x, y):
    d = x.shape[1]
    k = lambda a, b: (np.dot(a, b) / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(a, b) for a in x for b in y) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_matches_brute_force():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 3)), rng.normal(loc=0.5, size=(5, 3))
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_apart():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = metrics.kernel_inception_distance(a, b, num_subsets=20, subset_size=500)
    assert abs(mean) < 3 * std + 1e-3
    far_mean, far_std = metrics.kernel_inception_distance(a, b + 1.0, num_subsets=20,
                                                          subset_size=500)
    assert far_mean > 10 * far_std > 0


def test_kid_subsets_are_half_the_smaller_set_up_to_1000_so_the_std_means_something():
    assert metrics.kid_subset_size(20, 30) == 10
    assert metrics.kid_subset_size(1000, 1000) == 500
    assert metrics.kid_subset_size(5000, 2000) == 1000 == metrics.kid_subset_size(10**4, 10**4)
    assert metrics.kid_subset_size(3, 3) == 2  # the unbiased estimate's least
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(200, 8)), rng.normal(0.3, 1.0, size=(200, 8))
    _, whole_sets_std = metrics.kernel_inception_distance(real, fake, 20, 200)
    _, halves_std = metrics.kernel_inception_distance(real, fake, 20,
                                                       metrics.kid_subset_size(200, 200))
    assert whole_sets_std < 1e-12 < halves_std  # every "subset" of 200 is the whole set


def test_compare_draws_kid_subsets_of_half_the_smaller_set_unless_told():
    from anime_gan.evaluation import compare

    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(120, 8)), rng.normal(0.3, 1.0, size=(80, 8))
    figures = compare(real, fake, kid_subsets=10)
    assert (figures["kid_mean"], figures["kid_std"]) == metrics.kernel_inception_distance(
        real, fake, 10, 40)
    assert figures["kid_std"] > 0
    assert compare(real[:80], fake, kid_subsets=10, kid_subset_size=80)["kid_std"] < 1e-12


def test_precision_recall_by_hand():
    # Real points on a line, k=1 for a hand count: each real ball reaches its neighbour.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])          # radii (k=1): 1, 1, 1, 1
    fake = np.array([[0.5], [2.5], [10.0], [10.5]])        # radii (k=1): 2, 2, 0.5, 0.5
    precision, recall = metrics.precision_recall(real, fake, k=1)
    assert precision == pytest.approx(2 / 4)  # 0.5 and 2.5 inside; 10, 10.5 outside
    # Reals within a fake ball: 0.5+-2 covers 0, 1, 2; 2.5+-2 covers 1, 2, 3 -> all four.
    assert recall == pytest.approx(1.0)


def test_precision_recall_of_a_collapsed_generator():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(500, 8))
    collapsed = np.repeat(real[:5], 100, axis=0) + 1e-3 * rng.normal(size=(500, 8))
    precision, recall = metrics.precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.2

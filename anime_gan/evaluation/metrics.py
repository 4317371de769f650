"""Sample-quality metrics on feature vectors: FID, KID and improved precision/recall.

Pure numpy, independent of the backbone that produced the features:
- Frechet distance (Heusel et al., 2017) between Gaussians fitted to two feature sets;
- kernel distance, KID (Binkowski et al., 2018): the unbiased MMD^2 estimate with the
  cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, mean and std over random subsets;
- improved precision and recall (Kynkaanniemi et al., 2019): each set's manifold is the
  union of balls reaching each sample's k-th nearest neighbour (k = 3).
"""

import numpy as np


def feature_statistics(features):
    """Mean [d] and covariance [d, d] of features [n, d] (float64)."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix, by eigendecomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2):
    """tr(sqrt(sigma1 @ sigma2)) for covariance matrices.

    sigma1 @ sigma2 is not symmetric, but it is similar to the symmetric
    sqrt(sigma1) @ sigma2 @ sqrt(sigma1), whose eigenvalues are real and
    non-negative: their square roots sum to the trace wanted.  This avoids the
    complex round-off of a general matrix square root.
    """
    root1 = _sqrt_psd(sigma1)
    eigenvalues = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2))."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) \
        - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(distance, 0.0))


def polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased MMD^2 between samples x [m, d] and y [n, d] with the cubic kernel."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
                 + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
                 - 2.0 * k_xy.mean())


def kid_subset_size(real_count, fake_count, largest=1000):
    """Half the smaller set, at most ``largest``: subsets as large as a whole set would
    all be that set, and their std would be 0 whatever the spread."""
    return min(largest, max(2, min(real_count, fake_count) // 2))


def kernel_inception_distance(real, fake, num_subsets=100, subset_size=1000, seed=0):
    """KID: mean and std of the unbiased MMD^2 over random subsets of both sets."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                            fake[rng.choice(len(fake), size, replace=False)])
              for _ in range(num_subsets)]
    return float(np.mean(values)), float(np.std(values))


def _squared_distances(a, b):
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def _kth_neighbour_radii(features, k, batch_size):
    """Squared distance from each sample to its k-th nearest other sample."""
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_size):
        d = _squared_distances(features[start:start + batch_size], features)
        # Column k of the sorted row: index 0 is the sample itself (distance 0).
        radii[start:start + batch_size] = np.partition(d, k, axis=1)[:, k]
    return radii


def _fraction_inside_manifold(queries, support, radii, batch_size):
    """Fraction of ``queries`` within some support sample's ball of that sample's radius."""
    inside = 0
    for start in range(0, len(queries), batch_size):
        d = _squared_distances(queries[start:start + batch_size], support)
        inside += int(np.any(d <= radii[None, :], axis=1).sum())
    return inside / len(queries)


def precision_recall(real, fake, k=3, batch_size=1024):
    """Improved precision (fakes on the real manifold) and recall (reals on the fake manifold)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall needs more than k={k} samples in each set")
    real_radii = _kth_neighbour_radii(real, k, batch_size)
    fake_radii = _kth_neighbour_radii(fake, k, batch_size)
    return (_fraction_inside_manifold(fake, real, real_radii, batch_size),
            _fraction_inside_manifold(real, fake, fake_radii, batch_size))

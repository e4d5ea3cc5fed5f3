"""Distances between two sets of feature vectors: Fréchet distance and unbiased kernel MMD².

Both work in float64 on numpy arrays; features are ``(N, D)``, one row per video.

Fréchet distance (Heusel et al., 2017; Unterthiner et al., 2018 for video)::

    d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr( (S1^½ S2 S1^½)^½ )

The matrix square root is taken with symmetric eigen-decompositions (``eigvalsh``), not with
``scipy.linalg.sqrtm`` on the non-symmetric product ``S1 S2``: ``S1^½ S2 S1^½`` is symmetric
positive semi-definite, so its eigenvalues are real and ``>= 0`` up to rounding, and the trace of
its square root is the sum of their square roots (``S1^½`` may be replaced by any factor ``B``
with ``B Bᵀ = S1``, e.g. a Cholesky factor, without changing those eigenvalues). That is exact for singular covariances (fewer
videos than feature dimensions, the usual case for FVD) where ``sqrtm`` returns complex noise,
and it is an order of magnitude faster.

When the raw features are at hand and ``N < D``, :func:`frechet_distance_from_features` uses
the equivalent Gram form: with centred ``X1 (n1, D)`` and ``X2 (n2, D)``, the eigenvalues of
``S1 S2`` are the squared singular values of ``X1 X2ᵀ / sqrt((n1-1)(n2-1))``, so the trace term
is the nuclear norm of an ``n1 x n2`` matrix — no ``D x D`` decomposition at all.

Kernel distance (KID, Bińkowski et al., 2018; KVD for video): unbiased MMD² with the cubic
polynomial kernel ``k(x, y) = (x·y / D + 1)^3``, averaged over random subsets of equal size.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "kernel_distance",
    "polynomial_mmd2_unbiased",
    "scipy_frechet_distance",
]


def _as_features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D) features, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds non-finite values")
    return x


def gaussian_statistics(x: np.ndarray, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` of ``(N, D)`` features, float64.

    ``ddof=1`` divides by ``N - 1`` (unbiased: TF-GAN, ``np.cov``); ``ddof=0`` by ``N``
    (StyleGAN2-ADA's ``FeatureStats``, as cd-fvd).
    """
    x = _as_features(x, "features")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {x.shape[0]}")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof}")
    mu = x.mean(axis=0)
    xc = x - mu
    return mu, (xc.T @ xc) / (x.shape[0] - ddof)


def _psd_sqrt(mat: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix; rounding-negative eigenvalues -> 0."""
    w, v = np.linalg.eigh((mat + mat.T) * 0.5)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((S1^½ S2 S1^½)^½)``: the sum of square roots of the eigenvalues of ``S1 S2``.

    Any symmetric factor ``S1 = B Bᵀ`` gives ``Bᵀ S2 B``, which is symmetric PSD and has the same
    eigenvalues as ``S1 S2``. A Cholesky factor costs a fraction of an eigen-decomposition, so it
    is tried first; a singular ``S1`` (fewer videos than dimensions) makes Cholesky fail, and then
    the symmetric eigen-decomposition square root ``B = S1^½`` is used instead.
    """
    try:
        factor = np.linalg.cholesky(sigma1)
    except np.linalg.LinAlgError:
        factor = _psd_sqrt(sigma1)
    inner = factor.T @ sigma2 @ factor
    w = np.linalg.eigvalsh((inner + inner.T) * 0.5)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (float64).

    Args:
        mu1, mu2: means ``(D,)``.
        sigma1, sigma2: covariances ``(D, D)``, symmetric PSD (singular is fine).
    Returns:
        ``d² >= 0`` (clamped at 0 against rounding).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"shape mismatch: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, "
            f"sigma2 {sigma2.shape}"
        )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * _trace_sqrt_product(sigma1, sigma2)
    return max(float(value), 0.0)


def frechet_distance_from_features(x1: np.ndarray, x2: np.ndarray, ddof: int = 1) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets ``(N1, D)``, ``(N2, D)``.

    Uses the ``N1 x N2`` Gram form (see the module docstring) when it is smaller than ``D x D``,
    else the covariance form; both give the same number up to rounding. ``ddof`` as in
    :func:`gaussian_statistics`.
    """
    x1, x2 = _as_features(x1, "x1"), _as_features(x2, "x2")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"feature dimensions differ: {x1.shape[1]} vs {x2.shape[1]}")
    n1, n2, d = x1.shape[0], x2.shape[0], x1.shape[1]
    if n1 < 2 or n2 < 2:
        raise ValueError(f"need at least 2 videos per side, got {n1} and {n2}")
    if max(n1, n2) >= d:
        return frechet_distance(*gaussian_statistics(x1, ddof), *gaussian_statistics(x2, ddof))
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof}")
    mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
    c1, c2 = x1 - mu1, x2 - mu2
    m1, m2 = n1 - ddof, n2 - ddof
    # tr(S) = |Xc|_F² / m; tr sqrt(S1 S2) = nuclear norm of Xc1 Xc2ᵀ / sqrt(m1 m2).
    cross = (c1 @ c2.T) / np.sqrt(m1 * m2)
    nuclear = float(np.linalg.svd(cross, compute_uv=False).sum())
    diff = mu1 - mu2
    value = diff @ diff + (c1 * c1).sum() / m1 + (c2 * c2).sum() / m2 - 2.0 * nuclear
    return max(float(value), 0.0)


def scipy_frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The common ``scipy.linalg.sqrtm`` formula (pytorch-fid), for tests and benchmarks only."""
    from scipy import linalg

    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


# ----------------------------------------------------------------------------------------------
# Kernel distance (KID / KVD)
# ----------------------------------------------------------------------------------------------


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3,
                             gamma: float | None = None, coef: float = 1.0) -> float:
    """Unbiased MMD² between ``x (m, D)`` and ``y (n, D)`` with ``k = (gamma x·y + coef)^degree``.

    ``gamma`` defaults to ``1 / D`` (KID's choice). Diagonal terms of the within-set kernels are
    left out, which makes the estimate unbiased (and able to be slightly negative).
    """
    x, y = _as_features(x, "x"), _as_features(y, "y")
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"need at least 2 vectors per side, got {m} and {n}")
    g = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = (g * (x @ x.T) + coef) ** degree
    k_yy = (g * (y @ y.T) + coef) ** degree
    k_xy = (g * (x @ y.T) + coef) ** degree
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float(sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n))


def kernel_distance(
    x: np.ndarray,
    y: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    degree: int = 3,
) -> tuple[float, float, int]:
    """KID-style kernel distance: mean and std of unbiased MMD² over random subsets.

    Each subset draws ``subset_size`` rows without replacement from each side (capped at the
    smaller side's N, so a small set still gets an estimate).

    Returns:
        ``(mean, std, subset_size_used)``.
    """
    x, y = _as_features(x, "x"), _as_features(y, "y")
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError(f"kernel distance needs at least 2 videos per side, got {x.shape[0]}, {y.shape[0]}")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        xi = x[rng.choice(x.shape[0], size, replace=False)]
        yi = y[rng.choice(y.shape[0], size, replace=False)]
        values[i] = polynomial_mmd2_unbiased(xi, yi, degree=degree)
    return float(values.mean()), float(values.std()), size

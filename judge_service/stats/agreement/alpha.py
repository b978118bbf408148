"""Krippendorff's alpha at the four levels of measurement, checked against the ``krippendorff`` package."""

from __future__ import annotations

import numpy as np

from judge_service.errors import InvalidInput
from judge_service.stats.agreement.inputs import ALPHA_LEVELS


def krippendorff_alpha(data: np.ndarray, level: str) -> float:
    """Krippendorff's alpha for ``data`` (raters x units, ``np.nan`` = missing).

    alpha = 1 - D_o / D_e computed from the coincidence matrix (Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability", sections C-E): a unit with m_u pairable values contributes
    each ordered pair of its values with weight 1/(m_u - 1); units with fewer than two values
    are not pairable and drop out. Distances per level:
    nominal [c != k]; ordinal (sum_{g=c..k} n_g - (n_c + n_k)/2)^2; interval (c - k)^2;
    ratio ((c - k)/(c + k))^2.
    """
    if level not in ALPHA_LEVELS:
        raise InvalidInput(f"unknown level '{level}'; use one of {', '.join(ALPHA_LEVELS)}", field="level")
    matrix = np.asarray(data, dtype=float)
    if matrix.ndim != 2:
        raise InvalidInput(f"alpha needs a raters x units matrix; got an array with {matrix.ndim} dimension(s)",
                           field="ratings")
    if np.isinf(matrix).any():
        raise InvalidInput("ratings contain an infinite value; use null (nan) for a missing rating", field="ratings")
    domain = np.unique(matrix[~np.isnan(matrix)])
    if domain.size < 2:
        raise InvalidInput("alpha is undefined when every rating has the same value (no variation to agree on)",
                           field="ratings")
    # value_counts[u, v]: how many raters gave unit u the value domain[v]
    counts = (matrix.T[:, :, None] == domain[None, None, :]).sum(axis=1).astype(float)
    pairable = counts.sum(axis=1)
    counts = counts[pairable >= 2]
    if counts.shape[0] == 0:
        raise InvalidInput("alpha needs at least one unit rated by two or more raters", field="ratings")
    m_u = counts.sum(axis=1)
    coincidences = np.einsum("uc,uk->ck", counts / (m_u - 1)[:, None], counts) - np.diag((counts / (m_u - 1)[:, None]).sum(0))
    n_c = coincidences.sum(axis=0)
    n = n_c.sum()
    expected = (np.outer(n_c, n_c) - np.diag(n_c)) / (n - 1)
    delta = _alpha_distances(domain, n_c, level)
    disagreement_expected = (expected * delta).sum()
    if disagreement_expected == 0:
        raise InvalidInput("alpha is undefined: the pairable ratings take a single value", field="ratings")
    return float(1.0 - (coincidences * delta).sum() / disagreement_expected)


def _alpha_distances(domain: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    c, k = domain[:, None], domain[None, :]
    distances: np.ndarray
    if level == "nominal":
        distances = (c != k).astype(float)
        return distances
    if level == "interval":
        distances = (c - k) ** 2
        return distances
    if level == "ratio":
        total = c + k
        distances = np.divide(c - k, total, out=np.zeros((domain.size, domain.size)), where=total != 0) ** 2
        return distances
    # ordinal: the distance between ranks counts the pairable values that lie between them
    cumulative = np.concatenate([[0.0], np.cumsum(n_c)])
    i = np.arange(domain.size)
    lo, hi = np.minimum(i[:, None], i[None, :]), np.maximum(i[:, None], i[None, :])
    between = cumulative[hi + 1] - cumulative[lo]
    distances = (between - (n_c[lo] + n_c[hi]) / 2) ** 2
    return distances

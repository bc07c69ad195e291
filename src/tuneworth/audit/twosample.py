"""A two-sample test on embeddings: maximum mean discrepancy (MMD) with a permutation p-value.

Gaussian kernel with the median-distance bandwidth, unbiased MMD², and a seeded permutation test, so the
p-value is valid at any sample size (no asymptotic approximation). Large samples are subsampled
(seeded) to keep the kernel matrix small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass
class TwoSampleResult:
    statistic: float
    p_value: float
    n_x: int
    n_y: int
    permutations: int


def _mmd2(k: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> float:
    import numpy as np

    kxx = k[np.ix_(ix, ix)]
    kyy = k[np.ix_(iy, iy)]
    kxy = k[np.ix_(ix, iy)]
    m, n = len(ix), len(iy)
    return float(
        (kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (n * (n - 1)) - 2 * kxy.mean()
    )


def mmd_test(
    x: np.ndarray, y: np.ndarray, *, permutations: int = 300, max_n: int = 300, seed: int = 0
) -> TwoSampleResult:
    """Test whether rows of ``x`` and ``y`` (unit vectors) come from the same distribution."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if len(x) > max_n:
        x = x[rng.choice(len(x), max_n, replace=False)]
    if len(y) > max_n:
        y = y[rng.choice(len(y), max_n, replace=False)]
    z = np.vstack([x, y]).astype(np.float64)
    sq = np.clip(2.0 - 2.0 * (z @ z.T), 0.0, None)
    off = sq[np.triu_indices(len(z), 1)]
    bandwidth = float(np.median(off[off > 0])) if np.any(off > 0) else 1.0
    k = np.exp(-sq / bandwidth)
    m = len(x)
    idx = np.arange(len(z))
    observed = _mmd2(k, idx[:m], idx[m:])
    exceed = 0
    for _ in range(permutations):
        p = rng.permutation(len(z))
        if _mmd2(k, p[:m], p[m:]) >= observed:
            exceed += 1
    return TwoSampleResult(observed, (exceed + 1) / (permutations + 1), len(x), len(y), permutations)

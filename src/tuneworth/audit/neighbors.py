"""Nearest neighbours over unit vectors, in blocks so that 10k x 10k never sits in memory at once.

Vectors are L2-normalised, so a matrix product is the cosine similarity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BLOCK = 2048


def near_pairs(emb: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """All pairs i < j with cosine >= threshold, sorted by similarity (highest first)."""
    import numpy as np

    pairs: list[tuple[int, int, float]] = []
    n = len(emb)
    for start in range(0, n, BLOCK):
        sims = emb[start : start + BLOCK] @ emb.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i < c:
                pairs.append((i, c, float(sims[r, c])))
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return pairs


def best_match(queries: np.ndarray, corpus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query row: the highest cosine to any corpus row, and that row's index."""
    import numpy as np

    best = np.full(len(queries), -1.0, dtype=np.float32)
    arg = np.zeros(len(queries), dtype=np.int64)
    if len(corpus) == 0:
        return best, arg
    for start in range(0, len(queries), BLOCK):
        sims = queries[start : start + BLOCK] @ corpus.T
        arg[start : start + BLOCK] = sims.argmax(axis=1)
        best[start : start + BLOCK] = sims.max(axis=1)
    return best, arg


def knn(emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out k nearest neighbours of every row: (indices, similarities), each (n, k)."""
    import numpy as np

    n = len(emb)
    k = min(k, n - 1)
    idx = np.zeros((n, k), dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, BLOCK):
        s = emb[start : start + BLOCK] @ emb.T
        rows = np.arange(s.shape[0])
        s[rows, start + rows] = -np.inf  # never your own neighbour
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1)
        idx[start : start + BLOCK] = np.take_along_axis(part, order, axis=1)
        sim[start : start + BLOCK] = np.take_along_axis(ps, order, axis=1)
    return idx, sim


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]

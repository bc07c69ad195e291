"""Nearest training examples by embedding cosine: L2's ``nearest`` demonstrations and L3's
dynamic few-shot (a task without documents).

Train inputs are embedded once per climb (through the embedding cache, so a second climb embeds
nothing); each query is embedded once and its ranking memoised, so every k reuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneworth.embeddings.load import load_embedder

if TYPE_CHECKING:
    import numpy as np

MEMO_DEPTH = 32  # neighbours kept per query: more than any k a prompt can hold


class EmbeddingNeighbours:
    def __init__(self, texts: list[str], embedder: Any = None) -> None:
        self.embedder = embedder or load_embedder()
        self.vectors: np.ndarray = self.embedder.embed(list(texts))
        self._memo: dict[str, list[tuple[int, float]]] = {}

    def prefetch(self, queries: list[str]) -> None:
        """Embed many queries in one batch (much faster than one at a time)."""
        todo = list(dict.fromkeys(q for q in queries if q not in self._memo))
        if todo:
            for q, vec in zip(todo, self.embedder.embed(todo), strict=True):
                self._memo[q] = self._rank(vec)

    def _rank(self, vec: np.ndarray) -> list[tuple[int, float]]:
        import numpy as np

        sims = self.vectors @ vec
        n = sims.shape[0]
        c = min(MEMO_DEPTH, n)
        part = np.argpartition(-sims, c - 1)[:c] if c < n else np.arange(n)
        order = np.lexsort((part, -sims[part]))
        return [(int(i), float(sims[i])) for i in part[order]]

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Indices and cosine similarities of the ``k`` most similar texts, best first (ties by index)."""
        if query not in self._memo:
            self.prefetch([query])
        if k > MEMO_DEPTH:
            return self._rank(self.embedder.embed([query])[0])[:k] if len(self.vectors) else []
        return self._memo[query][:k]

"""A small TF-IDF index (word unigrams + bigrams, cosine) for nearest-neighbour demonstrations.

Pure Python and instant for thousands of short examples; the RAG issue adds dense embeddings.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

from tuneworth.textutil import words


def _terms(text: str) -> Counter[str]:
    w = words(text)
    return Counter(w + [f"{a} {b}" for a, b in pairwise(w)])


class TfidfIndex:
    def __init__(self, texts: list[str]) -> None:
        docs = [_terms(t) for t in texts]
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        n = len(docs)
        self.idf = {t: math.log((1 + n) / (1 + c)) + 1 for t, c in df.items()}
        self.vectors = [self._vec(d) for d in docs]

    def _vec(self, counts: Counter[str]) -> dict[str, float]:
        v = {t: (1 + math.log(c)) * self.idf.get(t, 0.0) for t, c in counts.items() if t in self.idf}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Indices and cosine similarities of the ``k`` most similar texts, best first (ties by index)."""
        q = self._vec(_terms(query))
        sims = [(i, sum(q[t] * v.get(t, 0.0) for t in q)) for i, v in enumerate(self.vectors)]
        sims.sort(key=lambda x: (-x[1], x[0]))
        return sims[:k]

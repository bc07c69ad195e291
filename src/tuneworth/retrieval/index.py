"""The hybrid index: dense cosine over a numpy matrix + BM25 (``bm25s``), fused by reciprocal rank.

Dense search is exact (one matrix-vector product and a partial sort); at 100k chunks of 384 floats
that takes a few milliseconds on one core, which is why the benchmark chose a plain matrix over an
approximate library. Both rankings are cut at ``candidates``, fused with RRF (``1/(60 + rank)``;
a chunk BM25 does not match at all gets no lexical credit), and optionally diversified with MMR.
Ties always break by chunk order, so results are deterministic.

On disk (``save``/``load``): ``manifest.json``, ``chunks.jsonl``, ``vectors.npy`` and ``bm25/``,
written to a temporary directory and swapped in whole, so a crash never leaves half an index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tuneworth.errors import MissingDependencyError, RetrievalWarning
from tuneworth.retrieval.chunk import Chunk, regex_tokenizer

if TYPE_CHECKING:
    import numpy as np

    from tuneworth.embeddings.load import Embedder

FORMAT_VERSION = 1
RRF_K = 60
Mode = Literal["hybrid", "dense", "bm25"]
Warn = Callable[[str], None]

_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "which", "who", "will", "with", "you", "your"]
)


def warn_default(message: str) -> None:
    warnings.warn(message, RetrievalWarning, stacklevel=3)


def bm25_terms(text: str) -> list[str]:
    """Lower-cased words without stopwords, with a light plural strip (refunds -> refund)."""
    out = []
    for w in re.findall(r"\w+", text.lower()):
        if w in _STOPWORDS:
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


class CorruptIndex(Exception):
    """An index directory that cannot be loaded (missing parts, bad JSON, shapes that disagree)."""


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # the ranking score: RRF (hybrid), cosine (dense) or BM25
    rank: int  # 1-based
    dense: float | None = None  # cosine similarity to the query, when computed
    lexical: float | None = None  # BM25 score, when computed

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.chunk.id,
            "source": self.chunk.source,
            "section": self.chunk.section,
            "score": round(self.score, 6),
            "dense": None if self.dense is None else round(self.dense, 4),
            "lexical": None if self.lexical is None else round(self.lexical, 4),
            "text": self.chunk.text,
        }


def _bm25(corpus_terms: list[list[str]]) -> Any:
    try:
        import bm25s
    except ImportError:
        raise MissingDependencyError("bm25s", "local") from None
    retriever = bm25s.BM25()
    # bm25s rejects an empty document; a chunk of stopwords only gets a placeholder term.
    retriever.index([t or ["\x00"] for t in corpus_terms], show_progress=False)
    return retriever


class HybridIndex:
    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder, bm25: Any,
                 meta: dict[str, Any] | None = None) -> None:
        self.chunks = chunks
        self.vectors = vectors
        self.embedder = embedder
        self.bm25 = bm25
        self.meta = meta or {}
        self._vocab: set[str] | None = None

    @classmethod
    def build(cls, chunks: list[Chunk], embedder: Embedder, *, meta: dict[str, Any] | None = None) -> HybridIndex:
        texts = [c.embed_text() for c in chunks]
        vectors = embedder.embed(texts)
        return cls(chunks, vectors, embedder, _bm25([bm25_terms(t) for t in texts]), meta)

    def __len__(self) -> int:
        return len(self.chunks)

    # ---- search ---------------------------------------------------------------------------

    def _check_query(self, query: str, warn: Warn) -> None:
        spans = getattr(self.embedder, "token_spans", None)
        limit = self.embedder.max_tokens
        n = len(spans(query)) if callable(spans) else len(regex_tokenizer(query))
        if n > limit:
            warn(
                f"query is {n} tokens; the embedding model reads only the first {limit} "
                "(the rest still counts for BM25)"
            )

    def dense_scores(self, query_vec: np.ndarray) -> np.ndarray:
        return self.vectors @ query_vec

    def _top(self, scores: np.ndarray, c: int) -> list[int]:
        import numpy as np

        n = scores.shape[0]
        c = min(c, n)
        if c <= 0:
            return []
        part = np.argpartition(-scores, c - 1)[:c] if c < n else np.arange(n)
        # Exact order: score descending, then chunk order (np.lexsort sorts by the last key first).
        order = np.lexsort((part, -scores[part]))
        return [int(i) for i in part[order]]

    def lexical(self, query: str, c: int) -> list[tuple[int, float]]:
        terms = bm25_terms(query)
        if self._vocab is None:
            self._vocab = set(getattr(self.bm25, "vocab_dict", {}) or {})
        terms = [t for t in terms if t in self._vocab] if self._vocab else terms
        if not terms or not self.chunks:
            return []
        import numpy as np

        scores = np.asarray(self.bm25.get_scores(terms), dtype=np.float32)
        top = self._top(scores, c)
        return [(i, float(scores[i])) for i in top if scores[i] > 0]

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        mmr: float | None = None,
        candidates: int = 50,
        warn: Warn | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first."""
        return self.search_many([query], k, mode=mode, mmr=mmr, candidates=candidates, warn=warn)[0]

    def search_many(
        self,
        queries: list[str],
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        mmr: float | None = None,
        candidates: int = 50,
        warn: Warn | None = None,
    ) -> list[list[Hit]]:
        """``search`` for many queries with one batched embedding call."""
        warn = warn or warn_default
        if not self.chunks or k <= 0:
            return [[] for _ in queries]
        c = max(candidates, k)
        qvecs = None
        if mode != "bm25" or mmr is not None:
            for q in queries:
                self._check_query(q, warn)
            qvecs = self.embedder.embed(list(queries))
        out = []
        for qi, query in enumerate(queries):
            dense = self.dense_scores(qvecs[qi]) if qvecs is not None else None
            lex = dict(self.lexical(query, c)) if mode != "dense" else {}
            ranked: list[tuple[int, float]]
            if mode == "dense":
                assert dense is not None
                ranked = [(i, float(dense[i])) for i in self._top(dense, c)]
            elif mode == "bm25":
                ranked = sorted(lex.items(), key=lambda x: (-x[1], x[0]))
            else:
                assert dense is not None
                fused: dict[int, float] = {}
                for rank, i in enumerate(self._top(dense, c), 1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
                for rank, (i, _) in enumerate(sorted(lex.items(), key=lambda x: (-x[1], x[0])), 1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
                ranked = sorted(fused.items(), key=lambda x: (-x[1], x[0]))
            if mmr is not None and dense is not None:
                ranked = self._mmr(ranked, dense, k, mmr)
            hits = [
                Hit(self.chunks[i], s, r, None if dense is None else float(dense[i]), lex.get(i))
                for r, (i, s) in enumerate(ranked[:k], 1)
            ]
            out.append(hits)
        return out

    def _mmr(self, ranked: list[tuple[int, float]], dense: np.ndarray, k: int, lam: float) -> list[tuple[int, float]]:
        """Maximal marginal relevance over the ranked candidates: relevance is cosine to the query."""
        pool = [i for i, _ in ranked]
        score = dict(ranked)
        chosen: list[int] = []
        while pool and len(chosen) < k:
            def value(i: int) -> float:
                redundancy = max((float(self.vectors[i] @ self.vectors[j]) for j in chosen), default=0.0)
                return lam * float(dense[i]) - (1 - lam) * redundancy

            best = max(pool, key=lambda i: (value(i), -pool.index(i)))
            chosen.append(best)
            pool.remove(best)
        return [(i, score[i]) for i in chosen]

    # ---- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` atomically (replacing any index already there)."""
        import numpy as np

        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as f:
                for c in self.chunks:
                    f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
            np.save(tmp / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
            self.bm25.save(str(tmp / "bm25"))
            manifest = {
                "format_version": FORMAT_VERSION,
                "embedder": getattr(self.embedder, "identity", self.embedder.name),
                "dim": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0,
                "n_chunks": len(self.chunks),
                **self.meta,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
            old = None
            if directory.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
                os.replace(directory, old / "index")
            os.replace(tmp, directory)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, directory: Path, embedder: Embedder) -> HybridIndex:
        """Load an index; ``CorruptIndex`` when any part is missing, unreadable or inconsistent."""
        import numpy as np

        directory = Path(directory)
        try:
            manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
                raise CorruptIndex(f"unknown index format {manifest.get('format_version')!r}")
            chunks = [Chunk(**json.loads(line)) for line in (directory / "chunks.jsonl").read_text("utf-8").splitlines()]
            vectors = np.load(directory / "vectors.npy", allow_pickle=False)
            import bm25s

            bm25 = bm25s.BM25.load(str(directory / "bm25"))
        except CorruptIndex:
            raise
        except ImportError:
            raise MissingDependencyError("bm25s", "local") from None
        except Exception as e:  # json, numpy, bm25s and OS errors all mean the same here
            raise CorruptIndex(f"{type(e).__name__}: {e}") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(chunks) or len(chunks) != manifest.get("n_chunks"):
            raise CorruptIndex(
                f"{len(chunks)} chunks, {vectors.shape[0] if vectors.ndim else '?'} vectors, "
                f"manifest says {manifest.get('n_chunks')}"
            )
        identity = getattr(embedder, "identity", embedder.name)
        if manifest.get("embedder") != identity:
            raise CorruptIndex(f"built with {manifest.get('embedder')}, not {identity}")
        if len(chunks) and int(bm25.scores.get("num_docs", len(chunks))) != len(chunks):
            raise CorruptIndex("BM25 part does not match the chunks")
        meta = {k: v for k, v in manifest.items() if k not in {"format_version", "embedder", "dim", "n_chunks"}}
        return cls(chunks, vectors.astype(np.float32, copy=False), embedder, bm25, meta)

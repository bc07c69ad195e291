"""Retrieval benchmarks for L3: indexing throughput, query latency at 1k/10k/100k chunks (exact numpy vs
the index's dense path vs hybrid), recall@10 of the index against exact search, and recall@5 on a public
question-passage set.

The public set is the SQuAD 2.0 sample that Haystack kept in its test fixtures
(``test/samples/squad/small.json`` at commit 3ffdb0a9 of deepset-ai/haystack; SQuAD is CC BY-SA 4.0):
2 Wikipedia articles, 87 paragraphs, 293 answerable questions. Pass its path with ``--squad``.

Latency at 10k and 100k chunks uses synthetic chunks, because embedding 100k real chunks takes an hour on
2 cores: vectors are noisy mixtures of the real SQuAD chunk vectors (re-normalised), texts are 60 words
drawn from the SQuAD vocabulary; queries are real SQuAD questions. Query embedding is timed apart.

Usage: python benchmarks/bench_retrieval.py --squad PATH [--queries 60] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tuneworth.embeddings.cache import CachedEmbedder  # noqa: E402
from tuneworth.embeddings.load import load_embedder  # noqa: E402
from tuneworth.retrieval.chunk import Chunk  # noqa: E402
from tuneworth.retrieval.index import HybridIndex, bm25_terms  # noqa: E402
from tuneworth.retrieval.ingest import Corpus, Document  # noqa: E402
from tuneworth.retrieval.store import IndexSettings, chunk_corpus, embedder_tokenizer  # noqa: E402


class Precomputed:
    """Serves stored query vectors, so latency measures the search, not the embedding model."""

    def __init__(self, vectors: dict[str, Any], dim: int) -> None:
        self.vectors, self.dim, self.name, self.max_tokens = vectors, dim, "precomputed", 10**9

    def embed(self, texts: list[str], *, batch_size: int = 64) -> Any:
        import numpy as np

        return np.stack([self.vectors[t] for t in texts])


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def load_squad(path: Path) -> tuple[list[Document], list[tuple[str, str]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    docs, questions = [], []
    for article in data["data"]:
        for i, para in enumerate(article["paragraphs"]):
            source = f"{article['title']}#p{i}"
            docs.append(Document(source, para["context"]))
            questions += [(q["question"], source) for q in para["qas"] if not q.get("is_impossible")]
    return docs, questions


def squad_quality(index: HybridIndex, questions: list[tuple[str, str]]) -> dict[str, Any]:
    out = {}
    queries = [q for q, _ in questions]
    for mode in ("dense", "bm25", "hybrid"):
        ranked = index.search_many(queries, 10, mode=mode)  # type: ignore[arg-type]
        hit5 = rr = 0.0
        for (_, gold), hits in zip(questions, ranked, strict=True):
            sources = [h.chunk.source for h in hits]
            hit5 += gold in sources[:5]
            rr += next((1 / r for r, s in enumerate(sources, 1) if s == gold), 0.0)
        out[mode] = {"recall@5": round(hit5 / len(questions), 4), "mrr@10": round(rr / len(questions), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--sizes", default="1000,10000,100000")
    args = ap.parse_args()
    import numpy as np

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = load_embedder(cache=False)
    docs, questions = load_squad(args.squad)
    settings = IndexSettings()
    result: dict[str, Any] = {"dataset": "SQuAD 2.0 sample (haystack test/samples/squad/small.json @3ffdb0a9)",
                              "paragraphs": len(docs), "questions": len(questions),
                              "load_average_at_start": [round(x, 1) for x in os.getloadavg()]}

    # 1. Indexing throughput: chunk + embed + BM25, cold (nothing cached) and re-indexed (all cached).
    with tempfile.TemporaryDirectory() as tmp:
        cached = CachedEmbedder(model, Path(tmp) / "emb.sqlite")
        t0 = time.perf_counter()
        chunks = chunk_corpus(Corpus(documents=docs), settings, embedder_tokenizer(model))
        t_chunk = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = HybridIndex.build(chunks, cached)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        HybridIndex.build(chunks, cached)
        t_warm = time.perf_counter() - t0
    result["indexing"] = {
        "chunks": len(chunks),
        "chunking_chunks_per_s": round(len(chunks) / t_chunk, 1),
        "cold_chunks_per_s": round(len(chunks) / t_cold, 1),
        "reindex_cached_chunks_per_s": round(len(chunks) / t_warm, 1),
    }
    print(result["indexing"], flush=True)

    # 2. Retrieval quality on the public question-passage set.
    result["squad_recall"] = squad_quality(index, questions)
    print(result["squad_recall"], flush=True)

    # 3. Query embedding cost (one question at a time, the real model).
    qs = [q for q, _ in random.Random(0).sample(questions, min(args.queries, len(questions)))]
    times = []
    for q in qs:
        t0 = time.perf_counter()
        model.embed([q])
        times.append((time.perf_counter() - t0) * 1000)
    result["query_embedding_ms"] = {"p50": round(pct(times, 50), 2), "p95": round(pct(times, 95), 2)}
    qvecs = dict(zip(qs, model.embed(qs), strict=True))

    # 4. Latency and recall@10 vs exact at growing sizes.
    rng = np.random.default_rng(0)
    base = index.vectors
    vocab = sorted({w for c in chunks for w in bm25_terms(c.text)})
    result["latency"] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        picks = rng.integers(0, len(base), size=(n, 3))
        weights = rng.dirichlet(np.ones(3), size=n).astype(np.float32)
        vecs = np.einsum("nk,nkd->nd", weights, base[picks]) + rng.normal(0, 0.02, size=(n, base.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        words = rng.integers(0, len(vocab), size=(n, 60))
        texts = [" ".join(vocab[i] for i in row) for row in words]
        synth = [Chunk(f"s{i}", 0, 0, 0, t) for i, t in enumerate(texts)]
        t0 = time.perf_counter()
        from tuneworth.retrieval.index import _bm25

        bm25 = _bm25([bm25_terms(t) for t in texts])
        t_bm25 = time.perf_counter() - t0
        idx = HybridIndex(synth, vecs.astype(np.float32), Precomputed(qvecs, base.shape[1]), bm25)
        row: dict[str, Any] = {"bm25_index_s": round(t_bm25, 2)}
        exact_top: dict[str, list[int]] = {}
        lat: dict[str, list[float]] = {"exact_numpy": [], "dense": [], "hybrid": []}
        for q in qs:
            t0 = time.perf_counter()
            scores = vecs @ qvecs[q]
            order = np.lexsort((np.arange(n), -scores))[:10]  # full sort: the exact reference
            lat["exact_numpy"].append((time.perf_counter() - t0) * 1000)
            exact_top[q] = [int(i) for i in order]
            for mode in ("dense", "hybrid"):
                t0 = time.perf_counter()
                idx.search(q, 10, mode=mode)  # type: ignore[arg-type]
                lat[mode].append((time.perf_counter() - t0) * 1000)
        recall = []
        for q in qs:
            got = {int(h.chunk.source[1:]) for h in idx.search(q, 10, mode="dense")}
            recall.append(len(got & set(exact_top[q])) / 10)
        for mode, values in lat.items():
            row[mode] = {"p50_ms": round(pct(values, 50), 2), "p95_ms": round(pct(values, 95), 2)}
        row["dense_recall@10_vs_exact"] = round(statistics.mean(recall), 4)
        result["latency"][str(n)] = row
        print(n, row, flush=True)
    result["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    save("retrieval", result)


if __name__ == "__main__":
    main()

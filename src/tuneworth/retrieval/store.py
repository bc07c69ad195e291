"""Open the index of a documents directory: load it when nothing changed, rebuild it when anything did.

The manifest keeps a content hash of every file and the settings (chunk size, overlap, embedder);
``open_index`` compares them with the directory. A changed, added or removed file rebuilds the index,
and the embedding cache makes the rebuild re-embed only the chunks whose text is new. A corrupt index
is rebuilt with a warning. Indexes live under ``$TUNEWORTH_HOME/indexes/`` unless a directory is given.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneworth.embeddings.load import DEFAULT_EMBEDDER, load_embedder
from tuneworth.errors import ConfigError
from tuneworth.paths import home
from tuneworth.retrieval.chunk import Chunk, Tokenizer, chunk_text, regex_tokenizer
from tuneworth.retrieval.index import CorruptIndex, HybridIndex, Warn, warn_default
from tuneworth.retrieval.ingest import Corpus, Skipped, file_digests, read_corpus


@dataclass(frozen=True)
class IndexSettings:
    chunk_tokens: int = 128
    chunk_overlap: int = 24
    embedding: str = DEFAULT_EMBEDDER
    embedding_base_url: str | None = None

    def key(self) -> dict[str, Any]:
        return {"chunk_tokens": self.chunk_tokens, "chunk_overlap": self.chunk_overlap, "embedding": self.embedding,
                "embedding_base_url": self.embedding_base_url}


@dataclass
class IndexInfo:
    """What ``open_index`` did, for the CLI and the run record."""

    path: str
    status: str  # "loaded", "built", "rebuilt: documents changed", "rebuilt: corrupt index (...)"
    documents: int
    chunks: int
    seconds: float
    skipped: list[dict[str, str]] = field(default_factory=list)
    embedded: int = 0  # chunks embedded now (cache misses)
    cached: int = 0  # chunks whose vectors came from the embedding cache

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def default_index_dir(docs: Path, settings: IndexSettings) -> Path:
    digest = hashlib.sha256(f"{docs.resolve()}\x00{sorted(settings.key().items())}".encode()).hexdigest()[:16]
    return home() / "indexes" / f"{docs.resolve().name or 'docs'}-{digest}"


def embedder_tokenizer(embedder: Any) -> Tokenizer:
    """Token spans from the embedding model's own tokenizer, else the regex approximation."""
    spans = getattr(embedder, "token_spans", None)
    return spans if callable(spans) else regex_tokenizer


def chunk_corpus(corpus: Corpus, settings: IndexSettings, tokenize: Tokenizer) -> list[Chunk]:
    chunks: list[Chunk] = []
    for doc in corpus.documents:
        chunks.extend(
            chunk_text(doc.text, doc.source, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap,
                       tokenize=tokenize)
        )
    return chunks


def open_index(
    docs: Path,
    *,
    settings: IndexSettings | None = None,
    index_dir: Path | None = None,
    embedder: Any = None,
    rebuild: bool = False,
    warn: Warn | None = None,
) -> tuple[HybridIndex, IndexInfo]:
    """The index of ``docs``: loaded if up to date, else (re)built and saved. Raises ``ConfigError``
    when the directory holds no usable document."""
    settings = settings or IndexSettings()
    warn = warn or warn_default
    docs = Path(docs)
    if not docs.is_dir():
        raise ConfigError(f"{docs}: not a directory", hint="pass the folder that holds your documents")
    index_dir = Path(index_dir) if index_dir else default_index_dir(docs, settings)
    t0 = time.perf_counter()
    digests = file_digests(docs)
    if not digests:
        raise ConfigError(f"{docs}: no usable documents (the directory is empty)",
                          hint="add .txt, .md, .html, .pdf or .jsonl files")
    embedder = embedder or load_embedder(settings.embedding, base_url=settings.embedding_base_url)
    status = "built"
    if (index_dir / "manifest.json").exists() and not rebuild:
        try:
            index = HybridIndex.load(index_dir, embedder)
        except CorruptIndex as e:
            warn(f"index {index_dir} is corrupt ({e}); rebuilding it")
            status = f"rebuilt: corrupt index ({e})"
        else:
            if index.meta.get("files") == digests and index.meta.get("settings") == settings.key():
                skipped = index.meta.get("skipped", [])
                return index, IndexInfo(str(index_dir), "loaded", int(index.meta.get("documents", 0)), len(index),
                                        round(time.perf_counter() - t0, 3), skipped)
            status = "rebuilt: documents changed"
    elif rebuild:
        status = "rebuilt: asked"
    corpus = read_corpus(docs)
    skipped = [{"path": s.path, "reason": s.reason} for s in corpus.skipped]
    if not corpus.documents:
        raise ConfigError(
            f"{docs}: no usable documents",
            hint="add .txt, .md, .html, .pdf or .jsonl files"
            + "".join(f"\n  skipped {s.path}: {s.reason}" for s in corpus.skipped[:10]),
        )
    chunks = chunk_corpus(corpus, settings, embedder_tokenizer(embedder))
    hits0, misses0 = getattr(embedder, "hits", 0), getattr(embedder, "misses", 0)
    meta = {
        "docs": str(docs.resolve()),
        "settings": settings.key(),
        "files": corpus.files,
        "documents": len(corpus.documents),
        "skipped": skipped,
        "built_at": time.time(),
    }
    index = HybridIndex.build(chunks, embedder, meta=meta)
    index.save(index_dir)
    embedded = getattr(embedder, "misses", len(chunks)) - misses0
    cached = getattr(embedder, "hits", 0) - hits0
    return index, IndexInfo(str(index_dir), status, len(corpus.documents), len(chunks),
                            round(time.perf_counter() - t0, 3), skipped, embedded, cached)


def skipped_lines(skipped: list[Skipped] | list[dict[str, str]]) -> list[str]:
    return [f"{s['path']}: {s['reason']}" if isinstance(s, dict) else f"{s.path}: {s.reason}" for s in skipped]

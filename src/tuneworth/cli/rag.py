"""``tuneworth index DOCS`` and ``tuneworth search INDEX "query"``: the L3 index from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _settings(chunk_tokens: int, overlap: int, embedding: str, base_url: str | None) -> Any:
    from tuneworth.errors import ConfigError
    from tuneworth.retrieval.store import IndexSettings

    if chunk_tokens < 16:
        raise ConfigError("--chunk-tokens must be at least 16")
    if not 0 <= overlap <= chunk_tokens // 2:
        raise ConfigError("--overlap must be between 0 and half of --chunk-tokens")
    return IndexSettings(chunk_tokens, overlap, embedding, base_url)


@click.command("index")
@click.argument("docs", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Index directory (default: under $TUNEWORTH_HOME/indexes).")
@click.option("--chunk-tokens", default=128, show_default=True, help="Chunk size in embedding-model tokens.")
@click.option("--overlap", default=24, show_default=True, help="Tokens shared by consecutive chunks.")
@click.option("--embedding", default="local/all-MiniLM-L6-v2", show_default=True,
              help="Embedding model: local/all-MiniLM-L6-v2 or openai/<model>.")
@click.option("--base-url", help="Base URL for openai/... embeddings.")
@click.option("--rebuild", is_flag=True, help="Rebuild even if the documents did not change.")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def index_cmd(docs: Path, out: Path | None, chunk_tokens: int, overlap: int, embedding: str,
              base_url: str | None, rebuild: bool, as_json: bool) -> None:
    """Build (or bring up to date) the retrieval index of DOCS and describe it."""
    from collections import Counter

    from tuneworth.retrieval.store import open_index

    index, info = open_index(docs, settings=_settings(chunk_tokens, overlap, embedding, base_url),
                             index_dir=out, rebuild=rebuild, warn=_warn)
    per_source = Counter(c.source.split("#")[0] for c in index.chunks)
    if as_json:
        click.echo(json.dumps({**info.to_dict(), "chunks_per_file": dict(sorted(per_source.items()))}, indent=2))
        return
    tokens = [c.tokens for c in index.chunks]
    click.echo(f"index {info.path}")
    click.echo(
        f"  {info.status} in {info.seconds:.2f} s: {info.documents} documents, {info.chunks} chunks "
        f"({min(tokens)}-{max(tokens)} tokens, mean {sum(tokens) / len(tokens):.0f})"
    )
    if info.status != "loaded":
        click.echo(f"  embedded {info.embedded} chunks, {info.cached} from the embedding cache")
    for name, n in sorted(per_source.items()):
        click.echo(f"  {n:4d}  {name}")
    for s in info.skipped:
        click.echo(f"  skipped {s['path']}: {s['reason']}")
    click.echo(f'next: tuneworth search {info.path} "your question"')


def _open_for_search(path: Path) -> Any:
    from tuneworth.errors import ConfigError
    from tuneworth.retrieval.store import IndexSettings, open_index

    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        if path.is_dir():  # a documents directory: its default index, built if needed
            return open_index(path, warn=_warn)[0]
        raise ConfigError(f"{path}: no such index or documents directory",
                          hint="pass the directory printed by `tuneworth index DOCS`")
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        settings = IndexSettings(**manifest["settings"])
        docs = Path(manifest["docs"])
    except Exception:
        raise ConfigError(f"{path}: corrupt index (unreadable manifest.json)",
                          hint=f"rebuild it: tuneworth index DOCS --out {path}") from None
    if docs.is_dir():  # brought up to date (or rebuilt if corrupt) from its documents
        return open_index(docs, settings=settings, index_dir=path, warn=_warn)[0]
    from tuneworth.embeddings.load import load_embedder
    from tuneworth.retrieval.index import CorruptIndex, HybridIndex

    _warn(f"documents directory {docs} is gone; searching the index as it is")
    try:
        return HybridIndex.load(path, load_embedder(settings.embedding, base_url=settings.embedding_base_url))
    except CorruptIndex as e:
        raise ConfigError(f"{path}: corrupt index ({e})", hint=f"rebuild it: tuneworth index DOCS --out {path}") from None


@click.command("search")
@click.argument("index", type=click.Path(path_type=Path))
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, help="How many chunks to show.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default="hybrid", show_default=True)
@click.option("--mmr", type=click.FloatRange(0, 1), help="Diversify with maximal marginal relevance (lambda).")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
def search_cmd(index: Path, query: str, k: int, mode: str, mmr: float | None, as_json: bool) -> None:
    """Show the chunks of INDEX (an index or documents directory) that best match QUERY."""
    from tuneworth.errors import ConfigError

    if k < 1:
        raise ConfigError("-k must be at least 1")
    if not query.strip():
        raise ConfigError("the query is empty")
    idx = _open_for_search(index)
    hits = idx.search(query, k, mode=mode, mmr=mmr, warn=_warn)
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        click.echo("no matching chunks")
    for h in hits:
        detail = ", ".join(
            p for p in (f"cosine {h.dense:.3f}" if h.dense is not None else "",
                        f"bm25 {h.lexical:.2f}" if h.lexical is not None else "") if p
        )
        click.echo(f"{h.rank}. [{h.chunk.id}] {h.chunk.section}  ({detail})")
        text = " ".join(h.chunk.text.split())
        click.echo(f"   {text[:240]}{'...' if len(text) > 240 else ''}")

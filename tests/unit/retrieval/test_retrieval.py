"""Ingest, the hybrid index and its persistence, with the real bundled embedding model."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from tuneworth.errors import ConfigError, RetrievalWarning
from tuneworth.retrieval.chunk import Chunk
from tuneworth.retrieval.ingest import html_to_text, read_corpus

pytest.importorskip("sentence_transformers")
pytest.importorskip("bm25s")


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF whose page shows ``text`` (Helvetica), built by hand."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def encrypted(pdf: bytes) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt("secret", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    (d / "policies").mkdir(parents=True)
    (d / "policies" / "refunds.md").write_text(
        "# Refunds\n\nElectronics can be returned within 14 days of delivery.\n\n"
        "## Timing\n\nRefunds arrive within 5 business days after the return is received.\n"
    )
    (d / "shipping.txt").write_text("Standard shipping takes 3 to 5 business days. Express takes 1 to 2.\n")
    (d / "plus.html").write_text(
        "<html><head><script>var x = 1;</script></head><body><nav>Home</nav><h1>Plus FAQ</h1>"
        "<p>Plus costs $9.99 a month.</p><h2>Fees</h2><p>Cancel within 14 days for a refund of the fee.</p></body></html>"
    )
    (d / "faq.jsonl").write_text(
        json.dumps({"id": "gift", "title": "Gift cards", "text": "Gift cards never expire."}) + "\n"
        + "{not json\n"
        + json.dumps({"id": "empty", "text": ""}) + "\n"
    )
    (d / "manual.pdf").write_bytes(make_pdf("The Brewmaster warranty lasts two years."))
    (d / "locked.pdf").write_bytes(encrypted(make_pdf("secret text")))
    (d / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (d / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (d / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
    (d / "notes.docx").write_bytes(b"PK\x03\x04")
    (d / "blank.md").write_text("   \n")
    (d / ".DS_Store").write_bytes(b"\x00")
    return d


def test_ingest_reads_every_format_and_lists_what_it_skipped(docs: Path) -> None:
    corpus = read_corpus(docs)
    by_source = {d.source: d.text for d in corpus.documents}
    assert set(by_source) == {"policies/refunds.md", "shipping.txt", "plus.html", "faq.jsonl#gift", "manual.pdf"}
    assert "Brewmaster warranty lasts two years" in by_source["manual.pdf"]
    assert by_source["faq.jsonl#gift"].startswith("# Gift cards")
    html = by_source["plus.html"]
    assert "# Plus FAQ" in html and "## Fees" in html and "var x" not in html and "Home" not in html
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert "encrypted PDF" in reasons["locked.pdf"]
    assert "unreadable PDF" in reasons["broken.pdf"]
    assert "binary" in reasons["blob.txt"]
    assert "not UTF-8" in reasons["latin.md"]
    assert "unsupported file type .docx" in reasons["notes.docx"]
    assert "no text" in reasons["blank.md"]
    assert "not valid JSON" in reasons["faq.jsonl:2"] and "no text" in reasons["faq.jsonl:3"]
    assert ".DS_Store" not in reasons  # hidden files are not documents


def test_html_headings_become_markdown_headings() -> None:
    text = html_to_text("<h2>Lost  parcels</h2><p>After 10\n   days.</p><ul><li>one</li><li>two</li></ul>")
    assert text.splitlines()[0] == "## Lost parcels"
    assert "After 10 days." in text and "one\ntwo" in text


def test_empty_or_unusable_docs_directory_is_a_clear_error(tmp_path: Path) -> None:
    from tuneworth.retrieval.store import open_index

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="empty"):
        open_index(tmp_path / "empty", index_dir=tmp_path / "idx")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.bin").write_bytes(b"\x00")
    with pytest.raises(ConfigError, match="no usable documents") as e:
        open_index(tmp_path / "bad", index_dir=tmp_path / "idx")
    assert "x.bin: unsupported" in str(e.value)
    assert not (tmp_path / "idx").exists()  # nothing half-written


def _cached(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tuneworth.embeddings.cache import CachedEmbedder
    from tuneworth.embeddings.load import load_embedder

    return CachedEmbedder(load_embedder(cache=False), tmp_path / "emb.sqlite")


def test_reindex_costs_nothing_until_a_document_changes(docs: Path, tmp_path: Path) -> None:
    from tuneworth.retrieval.store import open_index

    emb = _cached(tmp_path)
    idx_dir = tmp_path / "idx"
    index, info = open_index(docs, index_dir=idx_dir, embedder=emb)
    assert info.status == "built" and info.embedded == info.chunks > 0 and info.cached == 0
    assert {s["path"] for s in info.skipped} >= {"locked.pdf", "notes.docx"}
    again, info2 = open_index(docs, index_dir=idx_dir, embedder=emb)
    assert info2.status == "loaded" and emb.misses == info.chunks  # nothing embedded again
    assert [c.id for c in again.chunks] == [c.id for c in index.chunks]
    # One file changes: the index is rebuilt, but only that file's chunk is embedded.
    (docs / "shipping.txt").write_text("Standard shipping takes 2 to 4 business days.\n")
    _, info3 = open_index(docs, index_dir=idx_dir, embedder=emb)
    assert info3.status == "rebuilt: documents changed"
    assert info3.embedded == 1 and info3.cached == info3.chunks - 1
    # A fresh embedder on the same cache file (a new process) embeds nothing at all.
    _, info4 = open_index(docs, index_dir=idx_dir, embedder=_cached(tmp_path), rebuild=True)
    assert info4.embedded == 0 and info4.cached == info4.chunks


def test_corrupt_index_is_rebuilt_with_a_warning(docs: Path, tmp_path: Path) -> None:
    from tuneworth.retrieval.store import open_index

    emb = _cached(tmp_path)
    idx_dir = tmp_path / "idx"
    index, _ = open_index(docs, index_dir=idx_dir, embedder=emb)
    (idx_dir / "vectors.npy").write_bytes(b"garbage")
    warnings: list[str] = []
    again, info = open_index(docs, index_dir=idx_dir, embedder=emb, warn=warnings.append)
    assert info.status.startswith("rebuilt: corrupt index") and "corrupt" in warnings[0]
    assert again.vectors.shape == index.vectors.shape
    (idx_dir / "chunks.jsonl").write_text("")  # chunks and vectors disagree
    _, info = open_index(docs, index_dir=idx_dir, embedder=emb, warn=warnings.append)
    assert info.status.startswith("rebuilt: corrupt index")


def test_retrieval_is_deterministic_and_ranks_the_right_document(docs: Path, tmp_path: Path) -> None:
    from tuneworth.retrieval.store import open_index

    index, _ = open_index(docs, index_dir=tmp_path / "idx", embedder=_cached(tmp_path))
    query = "how long until my refund arrives after I send the item back?"
    first = index.search(query, 3)
    assert first[0].chunk.id == "policies/refunds.md#1" and first[0].chunk.section == "Refunds > Timing"
    for mode in ("hybrid", "dense", "bm25"):
        a = [(h.chunk.id, h.score) for h in index.search(query, 4, mode=mode)]  # type: ignore[arg-type]
        b = [(h.chunk.id, h.score) for h in index.search(query, 4, mode=mode)]  # type: ignore[arg-type]
        assert a == b
    rebuilt, _ = open_index(docs, index_dir=tmp_path / "idx2", embedder=_cached(tmp_path))
    assert [h.chunk.id for h in rebuilt.search(query, 4)] == [h.chunk.id for h in index.search(query, 4)]


def test_ties_break_by_chunk_order_and_mmr_diversifies() -> None:
    from tuneworth.embeddings.load import load_embedder
    from tuneworth.retrieval.index import HybridIndex

    texts = ["Express parcels arrive in two days."] * 3 + ["Standard parcels arrive in five days.", "Gift cards never expire."]
    chunks = [Chunk(f"d{i}.md", 0, 0, len(t), t) for i, t in enumerate(texts)]
    index = HybridIndex.build(chunks, load_embedder(cache=False))
    hits = index.search("when do express parcels arrive", 3, mode="dense")
    assert [h.chunk.source for h in hits] == ["d0.md", "d1.md", "d2.md"]  # equal scores: chunk order
    diverse = index.search("when do express parcels arrive", 2, mmr=0.5)
    assert diverse[0].chunk.source == "d0.md" and diverse[1].chunk.text != diverse[0].chunk.text


def test_hybrid_beats_dense_only_on_a_keyword_heavy_case() -> None:
    from tuneworth.embeddings.load import load_embedder
    from tuneworth.retrieval.index import HybridIndex

    rng = random.Random(0)
    symptoms = [
        "the heating element failed", "the water tank is empty", "the filter needs cleaning", "the door is not closed",
        "the motor overheated", "the pump is blocked", "the sensor is faulty", "the power supply is unstable",
        "the fan is stuck", "the lid is open", "the drum is unbalanced", "the hose is kinked",
    ] * 3
    codes = [f"{rng.choice('ABCDEFGHJK')}{rng.randint(100, 999)}" for _ in symptoms]
    chunks = [
        Chunk(f"errors/{i}.md", 0, 0, 0, f"Error code {c} on the Brewmaster appliance means {s}. Turn it off.")
        for i, (c, s) in enumerate(zip(codes, symptoms, strict=True))
    ]
    index = HybridIndex.build(chunks, load_embedder(cache=False))
    queries = [f"My Brewmaster shows error {c}, what should I do?" for c in codes]
    right = {}
    for mode in ("dense", "hybrid"):
        ranked = index.search_many(queries, 1, mode=mode)  # type: ignore[arg-type]
        right[mode] = sum(r[0].chunk.source == f"errors/{i}.md" for i, r in enumerate(ranked))
    assert right["hybrid"] > right["dense"]
    assert right["hybrid"] >= 0.9 * len(codes)


def test_a_query_over_the_model_limit_is_truncated_with_a_warning() -> None:
    from tuneworth.embeddings.load import load_embedder
    from tuneworth.retrieval.index import HybridIndex

    index = HybridIndex.build([Chunk("a.md", 0, 0, 5, "Refunds take five days.")], load_embedder(cache=False))
    seen: list[str] = []
    hits = index.search("refund " * 400, 1, warn=seen.append)
    assert hits and "reads only the first 256" in seen[0]
    with pytest.warns(RetrievalWarning, match="reads only the first"):
        index.search("refund " * 400, 1)

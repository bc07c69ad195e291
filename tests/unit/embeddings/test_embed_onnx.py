"""The audit's embeddings on ONNX Runtime: the same vectors as sentence-transformers, the same findings,
no torch import once exported, and a failed export leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneworth.errors import ConfigError, TuneworthError

pytest.importorskip("onnxruntime")
pytest.importorskip("sentence_transformers")

TEXTS = [
    "table for 4 at 7pm",
    "Hi, I'd like to book a table for two people tomorrow evening, around half past eight if possible.",
    "cancel",
    "The cat sat on the mat.",
    "How long do refunds take?",
    "word " * 400,  # over the 256-token limit: truncated like sentence-transformers does
    "Can I bring my dog?",
]


def test_onnx_vectors_match_sentence_transformers() -> None:
    import numpy as np

    from tuneworth.embeddings.load import load_embedder

    onnx = load_embedder(runtime="onnx", cache=False)
    torch = load_embedder(runtime="torch", cache=False)
    assert onnx is not torch and load_embedder(runtime="onnx", cache=False) is onnx
    a, b = onnx.embed(TEXTS), torch.embed(TEXTS)  # mixed lengths: sorted inside, returned in order
    assert a.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.99999
    assert onnx.embed([]).shape == (0, 384)
    assert onnx.embed(TEXTS[:1], batch_size=1)[0] @ a[0] > 0.99999
    assert onnx.identity != torch.identity  # type: ignore[attr-defined]  # never shares cached vectors


def test_unknown_runtime_is_a_config_error() -> None:
    from tuneworth.embeddings.load import load_embedder

    with pytest.raises(ConfigError, match="unknown embedding runtime"):
        load_embedder(runtime="tensorflow")


def test_failed_export_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from tuneworth.embeddings.onnx import export_onnx

    def boom(*args: object, **kwargs: object) -> None:
        Path(args[2]).write_bytes(b"half")  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch.onnx, "export", boom)
    target = tmp_path / "m" / "model.onnx"
    with pytest.raises(TuneworthError, match=r"could not export .*disk full"):
        export_onnx(target)
    assert list(target.parent.iterdir()) == []


def test_audit_runtimes_give_the_same_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.audit_data import clean_rows, write
    from tuneworth.audit import audit
    from tuneworth.config.task import AuditConfig

    rows = clean_rows()
    data = write(tmp_path / "data.jsonl", [*rows, rows[0], rows[3]])  # two exact duplicates
    reports = {rt: audit(data, config=AuditConfig(embedding_runtime=rt)) for rt in ("onnx", "torch")}  # type: ignore[arg-type]
    assert reports["onnx"].inputs["embedding_runtime"] == "onnx"
    assert reports["torch"].inputs["embedding_runtime"] == "torch"
    strip = [[c.to_dict() | {"seconds": 0} for c in r.checks] for r in reports.values()]
    assert strip[0] == strip[1]
    assert reports["onnx"].check("duplicates").status != "pass"

    import tuneworth.embeddings.onnx as eo

    monkeypatch.setattr(eo, "onnx_available", lambda: False)  # without onnxruntime: torch, said so
    assert audit(data).inputs["embedding_runtime"] == "torch"

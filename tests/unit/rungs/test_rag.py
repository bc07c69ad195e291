"""L3 end to end (real embedding model, scripted generation), dynamic few-shot, the CLI, OpenAI embeddings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.helpers.paths import REPO
from tests.helpers.raw_record import load_record
from tuneworth.config.task import load_task
from tuneworth.errors import AuthError, ConfigError
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.run.climb import climb

pytest.importorskip("sentence_transformers")
pytest.importorskip("bm25s")

EXAMPLE = REPO / "examples" / "support-triage"
WRONG = '{"category":"feedback","sentiment":"positive","priority":"low","action":"log_feedback"}'


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path / "home"))  # indexes go here, not to the user's home


@pytest.mark.slow
def test_l3_end_to_end_on_the_bundled_example(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (EXAMPLE / "data.jsonl").read_text().splitlines()]
    gold = {r["messages"][0]["content"]: r for r in rows}
    prompts: list[str] = []

    def responder(r: ChatRequest) -> str:
        # Right only when the prompt holds a chunk of the document the answer depends on.
        row = gold[r.messages[-1]["content"]]
        system = r.messages[0]["content"]
        prompts.append(system)
        sources = (row.get("metadata") or {}).get("sources") or []
        if "Reference documents" in system and all(f"[{s}#" in system for s in sources):
            return row["messages"][1]["content"]
        return WRONG

    task = load_task(EXAMPLE, model="fake/echo")
    task.rungs.L2.k = [1]
    task.rungs.L2.selection = ["random"]
    result = climb(task, Model(FakeProvider(responder)), runs_dir=tmp_path / "runs", rungs=["L2", "L3"], limit=10)
    header, items, summary = load_record(result.run_dir)
    assert summary is not None and [r["name"] for r in summary["rungs"]] == ["L2", "L3"]
    retrieval = header["retrieval"]
    assert retrieval["mode"] == "documents" and retrieval["index"]["documents"] == 8
    assert retrieval["index"]["skipped"] == []
    # Retrieval quality on the examples with gold sources (38 written for the example; --limit drops a few
    # validation and test ones): a real measurement of the index.
    q = retrieval["quality_all_labelled"]
    assert 30 <= q["n"] <= 38 and q[f"recall@{retrieval['k']}"] >= 0.85 and q["mrr"] >= 0.8
    assert len(retrieval["items"]) == 10 and set(retrieval["items"]) <= set(header["data"]["test_ids"])
    assert any("[refunds.md#" in p or "[shipping.md#" in p or "[warranty.md#" in p for p in prompts)
    l2, l3 = summary["rungs"]
    assert l3["score"] > l2["score"]
    diagnosis = header["diagnosis"]
    assert diagnosis["rungs"] == ["L2", "L3"] and diagnosis["counts"]["behaviour"] == 0
    assert diagnosis["counts"]["knowledge"] == diagnosis["fixed_by"]["L3"] > 0
    assert summary["diagnosis"]["shares"] == diagnosis["shares"]
    md = (result.run_dir / "summary.md").read_text()
    assert "## Retrieval" in md and "## Diagnosis: knowledge or behaviour" in md
    assert all(i["phase"] in {"validation", "test"} for i in items)


def test_without_docs_l3_runs_dynamic_fewshot_and_says_so(label_task: Path, tmp_path: Path) -> None:
    def responder(r: ChatRequest) -> str:
        demos = [m["content"] for m in r.messages[1:-1]]
        return demos[-1] if demos else "no idea"  # right only when the nearest demonstration shares the label

    task = load_task(label_task)
    result = climb(task, Model(FakeProvider(responder)), runs_dir=tmp_path / "runs", rungs=["L1", "L3"])
    header, _, summary = load_record(result.run_dir)
    assert header["retrieval"]["mode"] == "dynamic_fewshot"
    assert any("dynamic few-shot" in n for n in header["rungs"]["L3"]["notes"])
    assert summary is not None and summary["rungs"][1]["score"] >= 0.8 > summary["rungs"][0]["score"]
    assert "dynamic few-shot" in (result.run_dir / "summary.md").read_text()
    # Demonstrations fix behaviour, not knowledge: without documents L3 never counts as retrieval.
    assert header["diagnosis"]["counts"]["knowledge"] == 0 and header["diagnosis"]["counts"]["behaviour"] > 0


def test_l3_settings_are_validated(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    (tmp_path / "tuneworth.toml").write_text(
        'name = "t"\n[data]\npath = "data.jsonl"\n[rungs.L3]\nchunk_tokens = 64\nchunk_overlap = 40\n'
    )
    with pytest.raises(ConfigError, match="chunk_overlap must be at most half"):
        load_task(tmp_path)


def _run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from tuneworth.cli import main

    code = 0
    try:
        main(list(args))
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_index_and_search_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLE / "docs", docs)
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4 broken")
    out_dir = tmp_path / "idx"
    code, out, _ = _run_cli(capsys, "index", str(docs), "--out", str(out_dir))
    assert code == 0 and "built" in out and "8 documents" in out and "skipped scan.pdf: unreadable PDF" in out
    code, out, _ = _run_cli(capsys, "index", str(docs), "--out", str(out_dir))
    assert code == 0 and "loaded" in out
    code, out, _ = _run_cli(capsys, "search", str(out_dir), "how long is the warranty on a coffee machine?", "-k", "2")
    assert code == 0 and out.startswith("1. [warranty.md#")
    code, out, _ = _run_cli(capsys, "search", str(out_dir), "express fee refund", "--json", "--mode", "bm25")
    hits = json.loads(out)
    assert hits[0]["source"] == "shipping.md" and hits[0]["dense"] is None
    (out_dir / "chunks.jsonl").write_text("{broken")
    code, out, err = _run_cli(capsys, "search", str(out_dir), "gift card refund")
    assert code == 0 and "corrupt" in err and "rebuilding" in err and "faq.jsonl#gift-cards" in out
    code, _, err = _run_cli(capsys, "search", str(tmp_path / "nope"), "q")
    assert code == 2 and "no such index" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    code, _, err = _run_cli(capsys, "index", str(tmp_path / "empty"))
    assert code == 2 and "empty" in err


def test_openai_embeddings_go_through_the_sdk_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from tuneworth.embeddings.openai import OpenAIEmbedder

    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        assert request.url.path == "/v1/embeddings"
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 3.0, 4.0]}
                for i, t in enumerate(body["input"])]
        return httpx2.Response(200, json={"object": "list", "data": data[::-1], "model": body["model"],
                                          "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    emb = OpenAIEmbedder("text-embedding-test", base_url="http://testserver/v1",
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    vecs = emb.embed(["", "abc", "abcd"], batch_size=2)
    assert [len(b["input"]) for b in seen] == [2, 1] and seen[0]["model"] == "text-embedding-test"
    assert vecs.shape == (3, 3) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    assert np.allclose(vecs[1], np.array([3.0, 3.0, 4.0]) / np.linalg.norm([3.0, 3.0, 4.0]))  # order kept
    assert emb.dim == 3 and emb.identity == "openai/text-embedding-test@http://testserver/v1"

    def denied(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(401, json={"error": {"message": "bad key", "type": "invalid_request_error"}})

    bad = OpenAIEmbedder("m", base_url="http://testserver/v1", http_client=httpx2.Client(transport=httpx2.MockTransport(denied)))
    with pytest.raises(AuthError, match="authentication failed"):
        bad.embed(["x"])

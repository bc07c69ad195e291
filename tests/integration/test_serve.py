"""``tuneworth serve`` driven only through the official ``openai`` client, against a real server process
serving a tiny Llama built here (2 layers, hidden 32, SmolLM2's tokenizer)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.serve import Server, build_tiny_model, chat_rows, jsonl, wait_for

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "fastapi", "uvicorn", "multipart", "openai")),
    reason="needs the [local,serve,openai] extras (make test installs them)",
)
needs_trainer = pytest.mark.skipif(
    importlib.util.find_spec("tuneworth.finetune") is None, reason="needs the local LoRA trainer (issue 10)"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="module")
def server(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("srv")
    s = Server(root / "data", tiny, root / "home", "--batch-wait-ms", "30").start()
    yield s
    s.stop()


def upload(client: Any, data: bytes, name: str = "train.jsonl") -> Any:
    return client.files.create(file=(name, data), purpose="fine-tune")


# ---- models and chat ---------------------------------------------------------------------------


def test_models_and_unknown_model(server: Server) -> None:
    import openai

    c = server.client()
    ids = [m.id for m in c.models.list()]
    assert "tiny" in ids and "all-MiniLM-L6-v2" in ids
    assert c.models.retrieve("tiny").object == "model"
    with pytest.raises(openai.NotFoundError) as e:
        c.models.retrieve("nope")
    assert e.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_chat_completion_with_usage_and_limits(server: Server) -> None:
    c = server.client()
    r = c.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hello there"}], max_tokens=5, temperature=0,
        extra_body={"an_unknown_field": 1},
    )
    assert r.object == "chat.completion" and r.model == "tiny"
    assert isinstance(r.choices[0].message.content, str)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert 1 <= r.usage.completion_tokens <= 5 and r.usage.prompt_tokens > 3  # type: ignore[union-attr]
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens  # type: ignore[union-attr]
    newer = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hello there"}],
                                      max_completion_tokens=3, max_tokens=50, temperature=0)
    assert newer.usage.completion_tokens == 3 and newer.choices[0].finish_reason == "length"  # type: ignore[union-attr]


def test_streaming_matches_the_plain_answer(server: Server) -> None:
    c = server.client()
    msgs = [{"role": "user", "content": "count to three"}]
    plain = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=8, temperature=0, seed=1)
    chunks = list(c.chat.completions.create(model="tiny", messages=msgs, max_tokens=8, temperature=0, seed=1,
                                            stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text and text == plain.choices[0].message.content
    assert len([ch for ch in chunks if ch.choices and ch.choices[0].delta.content]) > 1  # several pieces
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finishes == [plain.choices[0].finish_reason]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == plain.usage.total_tokens  # type: ignore[union-attr]


def test_streaming_sends_tokens_while_the_batch_decodes(server: Server) -> None:
    """Chunks arrive as tokens are decoded: the first content arrives long before the finish chunk, and
    the deltas join to the non-streamed answer."""
    import time

    msgs = [{"role": "user", "content": "tell me a long story"}]
    c = server.client()
    plain = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=96, temperature=0)
    t0 = time.perf_counter()
    arrivals = [(time.perf_counter() - t0, chunk) for chunk in c.chat.completions.create(
        model="tiny", messages=msgs, max_tokens=96, temperature=0, stream=True)]
    contents = [(t, ch.choices[0].delta.content) for t, ch in arrivals if ch.choices and ch.choices[0].delta.content]
    assert len(contents) >= 10  # token deltas, not one piece
    assert "".join(text for _, text in contents) == plain.choices[0].message.content
    finish_t = next(t for t, ch in arrivals if ch.choices and ch.choices[0].finish_reason)
    assert contents[0][0] < 0.5 * finish_t, (contents[0][0], finish_t)  # first tokens well before the end
    assert arrivals[-1][1].choices[0].finish_reason == "length"


def test_stream_errors_before_the_first_token_are_plain_errors(server: Server) -> None:
    import openai

    c = server.client()
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], stream=True,
                                  top_p=2)
    assert e.value.body["param"] == "top_p"  # type: ignore[index]


def test_top_p_is_applied_when_sampling(server: Server) -> None:
    c = server.client()
    msgs = [{"role": "user", "content": "say something"}]
    greedy = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, temperature=0)
    nucleus = [c.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, temperature=1.5, top_p=1e-6,
                                         seed=s).choices[0].message.content for s in (1, 2)]
    assert nucleus == [greedy.choices[0].message.content] * 2  # only the most likely token survives top_p
    full = {c.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, temperature=1.5, top_p=1.0,
                                      seed=s).choices[0].message.content for s in (1, 2)}
    assert greedy.choices[0].message.content not in full  # without top_p the tiny model's samples wander


def test_logprobs_and_top_logprobs(server: Server) -> None:
    import math

    import openai

    c = server.client()
    msgs = [{"role": "user", "content": "hello there"}]
    r = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=6, temperature=0, logprobs=True,
                                  top_logprobs=3)
    content = r.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None and len(content) == r.usage.completion_tokens  # type: ignore[union-attr]
    joined = b"".join(bytes(t.bytes or []) for t in content)
    assert joined.decode("utf-8", "replace").strip() == r.choices[0].message.content
    for t in content:
        assert t.logprob <= 0
        assert len(t.top_logprobs) == 3
        assert [a.logprob for a in t.top_logprobs] == sorted((a.logprob for a in t.top_logprobs), reverse=True)
        assert t.top_logprobs[0].token == t.token and math.isclose(t.top_logprobs[0].logprob, t.logprob)  # greedy
    bare = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=2, temperature=0, logprobs=True)
    assert [t.top_logprobs for t in bare.choices[0].logprobs.content] == [[], []]  # type: ignore[union-attr]
    assert c.chat.completions.create(model="tiny", messages=msgs, max_tokens=2).choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=msgs, max_tokens=2, top_logprobs=2)
    assert e.value.body["param"] == "logprobs"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="tiny", messages=msgs, max_tokens=2, logprobs=True, top_logprobs=21)


def test_concurrent_requests_share_one_forward_pass(server: Server) -> None:
    async def run() -> list[Any]:
        c = server.async_client()
        calls = [
            c.chat.completions.with_raw_response.create(
                model="tiny", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=4, temperature=0)
            for i in range(8)
        ]
        return await asyncio.gather(*calls)

    raws = asyncio.run(run())
    sizes = [int(r.headers["x-tuneworth-batch-size"]) for r in raws]
    assert max(sizes) >= 4, sizes  # gathered into batches, not answered one by one
    batched = [r.parse().choices[0].message.content for r in raws]
    c = server.client()
    alone = [c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": f"question {i}"}],
                                       max_tokens=4, temperature=0).choices[0].message.content for i in (0, 5)]
    assert alone == [batched[0], batched[5]] and all(batched)  # batching does not change greedy answers


def test_request_errors_use_openai_envelope(server: Server) -> None:
    import openai

    c = server.client()
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], n=2)
    assert e.value.body["param"] == "n"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                  response_format={"type": "json_object"})
    assert "json" in e.value.message
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="missing", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], temperature=5)
    assert e.value.body["param"] == "temperature"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=0)
    assert e.value.body["param"] == "max_completion_tokens"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as e:
        c.get("/nowhere", cast_to=object)
    assert set(e.value.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]


def test_json_object_answer_is_cut_at_the_object(server: Server) -> None:
    c = server.client()
    r = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "reply in JSON"}],
                                  response_format={"type": "json_object"}, max_tokens=6, temperature=0)
    assert r.choices[0].message.content is not None


@pytest.mark.skipif(importlib.util.find_spec("llguidance") is None or
                    importlib.util.find_spec("tuneworth.decoding") is None,
                    reason="needs schema-guided decoding (issue 8) and llguidance")
def test_json_schema_answers_follow_the_schema(server: Server) -> None:
    import openai

    c = server.client()
    schema = {"type": "object", "properties": {"colour": {"type": "string", "enum": ["red", "green"]}},
              "required": ["colour"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "c", "schema": schema, "strict": True}}
    r = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "pick a colour"}],
                                  response_format=fmt, max_tokens=20, temperature=0)  # type: ignore[arg-type]
    assert json.loads(r.choices[0].message.content or "")["colour"] in ("red", "green")
    o = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "answer in json"}],
                                  response_format={"type": "json_object"}, max_tokens=20, temperature=0)
    text = o.choices[0].message.content or ""
    # Any object is allowed, so a random tiny model may run out of tokens inside a key: still a JSON prefix.
    assert text.startswith("{") and (o.choices[0].finish_reason == "length" or isinstance(json.loads(text), dict))
    bad = {"type": "json_schema", "json_schema": {"name": "b", "schema": {"type": "object", "not": {}}}}
    with pytest.raises(openai.BadRequestError, match="keyword 'not' is not supported"):  # named, as in climbs
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}],
                                  response_format=bad, max_tokens=5)  # type: ignore[arg-type]


def test_embeddings_float_and_base64(server: Server) -> None:
    c = server.client()
    r = c.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat", "a dog"])  # client asks for base64
    assert len(r.data) == 2 and len(r.data[0].embedding) == 384
    f = c.embeddings.create(model="all-MiniLM-L6-v2", input="a cat", encoding_format="float")
    assert f.data[0].embedding == pytest.approx(r.data[0].embedding, abs=1e-6)
    assert sum(x * x for x in f.data[0].embedding) == pytest.approx(1.0, abs=1e-4)
    assert r.usage.prompt_tokens > 2


# ---- files ------------------------------------------------------------------------------------


def test_files_round_trip_and_pagination(server: Server) -> None:
    import openai

    c = server.client()
    data = jsonl(chat_rows(12))
    f = upload(c, data)
    assert f.id.startswith("file-") and f.bytes == len(data) and f.purpose == "fine-tune"
    assert c.files.retrieve(f.id).filename == "train.jsonl"
    assert c.files.content(f.id).read() == data
    others = [upload(c, jsonl(chat_rows(10, offset=k))) for k in range(3)]
    page = c.files.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    listed = [x.id for x in c.files.list(limit=2)]  # auto-pagination follows the cursor
    assert listed[:4] == [o.id for o in reversed(others)] + [f.id]
    assert c.files.delete(f.id).deleted
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve(f.id)
    with pytest.raises(openai.NotFoundError):
        c.files.content("file-..%2F..%2Fstate.sqlite")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (jsonl(chat_rows(2)) + b"{not json}\n", "Example 3 (line 3): invalid JSON"),
        (jsonl(chat_rows(1)) + jsonl([{"messages": [{"role": "user", "content": "hi"}]}]),
         "Example 2 (line 2): no assistant message"),
        (jsonl([{"messages": [{"role": "bot", "content": "x"}]}]), "role 'bot'"),
        (jsonl([{"prompt": "a", "completion": "b"}]), "missing 'messages'"),
        (jsonl([{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}]),
         "messages[0].content must be a string (or a list of text parts), got int"),
        (b"\xff\xfe", "not UTF-8"),
        (b"\n\n", "no examples"),
    ],
)
def test_malformed_uploads_name_the_example_and_problem(server: Server, content: bytes, expected: str) -> None:
    import openai

    c = server.client()
    before = len(c.files.list().data)
    with pytest.raises(openai.BadRequestError) as e:
        upload(c, content)
    assert expected in e.value.message and e.value.body["param"] == "file"  # type: ignore[index]
    assert len(c.files.list().data) == before  # nothing half-written


def test_upload_needs_jsonl_and_fine_tune_purpose(server: Server) -> None:
    import openai

    c = server.client()
    with pytest.raises(openai.BadRequestError, match="jsonl"):
        upload(c, jsonl(chat_rows(10)), name="train.csv")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        c.files.create(file=("t.jsonl", jsonl(chat_rows(10))), purpose="assistants")


# ---- jobs -------------------------------------------------------------------------------------


def test_job_create_validation_errors(server: Server) -> None:
    import openai

    c = server.client()
    f = upload(c, jsonl(chat_rows(10)))
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.create(model="tiny", training_file="file-doesnotexist")
    assert e.value.body["param"] == "training_file"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.create(model="gpt-4o", training_file=f.id)
    assert e.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.create(model="tiny", training_file=f.id, hyperparameters={"n_epochs": 0})
    assert e.value.body["param"] == "hyperparameters.n_epochs"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        c.fine_tuning.jobs.create(model="tiny", training_file=f.id, suffix="../bad")
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("ftjob-nothere")
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("../../etc")


def test_too_few_examples_fail_in_validation(server: Server) -> None:
    c = server.client()
    f = upload(c, jsonl(chat_rows(3)))
    job = c.fine_tuning.jobs.create(model="tiny", training_file=f.id)
    assert job.status == "validating_files"
    job = wait_for(lambda: c.fine_tuning.jobs.retrieve(job.id), lambda j: j.status == "failed", 10)
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "3 example(s)" in job.error.message


def test_job_pagination_method_form_and_cancel(server: Server) -> None:
    import openai

    c = server.client()
    f = upload(c, jsonl(chat_rows(10)))
    # Jobs queue behind each other; each is cancelled right away, whatever state it reached.
    jobs = []
    for i in range(3):
        job = c.fine_tuning.jobs.create(
            model="tiny", training_file=f.id, suffix=f"p{i}", seed=i,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 2}}},
        )
        assert job.method.type == "supervised"  # type: ignore[union-attr]
        assert job.hyperparameters.n_epochs == 2 and job.seed == i and job.user_provided_suffix == f"p{i}"
        jobs.append(c.fine_tuning.jobs.cancel(job.id))
    assert all(j.status == "cancelled" and j.finished_at for j in jobs)
    page = c.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == [jobs[2].id, jobs[1].id] and page.has_more
    nxt = c.fine_tuning.jobs.list(limit=2, after=jobs[1].id)
    assert nxt.data[0].id == jobs[0].id
    every = [j.id for j in c.fine_tuning.jobs.list(limit=1)]
    assert every[:3] == [jobs[2].id, jobs[1].id, jobs[0].id]
    events = [e.message for e in c.fine_tuning.jobs.list_events(jobs[0].id)]
    assert events[0] == "Job cancelled" and events[-1].startswith("Created fine-tuning job")
    with pytest.raises(openai.BadRequestError):
        c.fine_tuning.jobs.cancel(jobs[0].id)
    with pytest.raises(openai.BadRequestError):
        c.fine_tuning.jobs.create(model="tiny", training_file=f.id, method={"type": "dpo"})  # type: ignore[typeddict-item]


@needs_trainer
def test_whole_flow_to_a_fine_tuned_model(server: Server) -> None:
    c = server.client()
    train = upload(c, jsonl(chat_rows(12)))
    valid = upload(c, jsonl(chat_rows(6, offset=100)), name="valid.jsonl")
    job = c.fine_tuning.jobs.create(
        model="tiny", training_file=train.id, validation_file=valid.id, suffix="colours", seed=3,
        hyperparameters={"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": "auto"},
    )
    job = wait_for(lambda: c.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in ("succeeded", "failed", "cancelled"), 240)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model and job.fine_tuned_model.startswith("ft:")
    assert job.trained_tokens and job.trained_tokens > 0 and job.finished_at and job.estimated_finish is None
    assert job.hyperparameters.n_epochs == 2 and isinstance(job.hyperparameters.learning_rate_multiplier, float)
    events = [e.message for e in c.fine_tuning.jobs.list_events(job.id, limit=100)][::-1]
    assert events[0].startswith("Created fine-tuning job")
    assert "Files validated, moving job to queued state" in events and "Fine-tuning job started" in events
    steps = [m for m in events if m.startswith("Step ")]
    assert steps and "training loss=" in steps[-1] and "/6:" in steps[-1]
    assert events[-2] == f"New fine-tuned model created: {job.fine_tuned_model}"
    assert events[-1] == "The job has successfully completed"
    ckpts = list(c.fine_tuning.jobs.checkpoints.list(job.id))
    assert ckpts and all(ck.step_number > 0 and ck.metrics.train_loss is not None for ck in ckpts)
    assert job.fine_tuned_model in [m.id for m in c.models.list()]
    r = c.chat.completions.create(model=job.fine_tuned_model, messages=chat_rows(1)[0]["messages"][:2],
                                  max_tokens=3, temperature=0)
    assert r.model == job.fine_tuned_model and r.choices[0].message.content is not None


# ---- security and restarts -------------------------------------------------------------------


def test_non_loopback_bind_refuses_without_a_key(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tuneworth", "serve", "--host", "0.0.0.0", "--data-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 2
    assert "without an API key" in out.stderr and "Traceback" not in out.stderr


def test_status_machine_never_leaves_jobs_running(tmp_path: Path) -> None:
    """Recovery with a job interrupted too often: it fails with a clear error instead of staying running."""
    from tuneworth.serve.store import Store
    from tuneworth.serve.worker import MAX_ATTEMPTS, Worker

    store = Store(tmp_path)
    with store.tx() as db:
        db.execute("INSERT INTO jobs (id, created_at, model, base_spec, training_file, seed, hyperparameters,"
                   " status, attempts) VALUES ('ftjob-a1', 0, 'tiny', 'x', 'file-x', 0, '{}', 'running', ?)",
                   (MAX_ATTEMPTS,))
    Worker(store, None).recover()
    job = store.get_job("ftjob-a1")
    assert job["status"] == "failed" and json.loads(job["error"])["code"] == "interrupted"


def check_auth_and_limits(s: Server) -> None:
    import openai

    with pytest.raises(openai.AuthenticationError) as e:
        s.client(api_key="wrong").models.list()
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    ok = s.client()
    assert "tiny" in [m.id for m in ok.models.list()]
    with pytest.raises(openai.APIStatusError) as e:
        ok.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "word " * 4000}])
    assert e.value.status_code == 413 and e.value.body["code"] == "request_too_large"  # type: ignore[index]
    with pytest.raises(openai.APIStatusError) as e:
        upload(ok, jsonl(chat_rows(300)))
    assert e.value.status_code == 413
    assert ok.files.list().data == []


@needs_trainer
def test_auth_limits_and_restart_after_kill9(tiny: Path, tmp_path: Path) -> None:
    """With an API key and small limits: 401/413 envelopes. Then kill -9 mid-training and restart: the
    running job resumes from its checkpoint, the queued one runs, files and models are all there."""
    key = ("--api-key", "sekret", "--max-body-mb", "0.01", "--max-upload-mb", "0.01")
    s = Server(tmp_path / "data", tiny, tmp_path / "home", *key).start()
    check_auth_and_limits(s)
    c = s.client()
    f = upload(c, jsonl(chat_rows(10)))
    long = c.fine_tuning.jobs.create(model="tiny", training_file=f.id, hyperparameters={"n_epochs": 3, "batch_size": 2})
    queued = c.fine_tuning.jobs.create(model="tiny", training_file=f.id, hyperparameters={"n_epochs": 1, "batch_size": 5})
    wait_for(lambda: list(c.fine_tuning.jobs.checkpoints.list(long.id)), bool, 240, 0.05)
    assert [c.fine_tuning.jobs.retrieve(j.id).status for j in (long, queued)] == ["running", "queued"]
    s.kill9()
    s2 = Server(tmp_path / "data", tiny, tmp_path / "home", *key)
    s2.port = s.port
    s2.start()
    try:
        c2 = s2.client()
        assert c2.files.retrieve(f.id).bytes == f.bytes
        done = [wait_for(lambda j=j: c2.fine_tuning.jobs.retrieve(j.id),
                         lambda j: j.status in ("succeeded", "failed", "cancelled"), 300) for j in (long, queued)]
        assert [d.status for d in done] == ["succeeded", "succeeded"], [d.error for d in done]
        events = [e.message for e in c2.fine_tuning.jobs.list_events(long.id, limit=200)][::-1]
        assert "The server restarted: resuming from the last checkpoint" in events
        resumed = [m for m in events if m.startswith("resuming from checkpoint at step ")]
        assert resumed and 5 <= int(resumed[0].split()[5].split("/")[0]) < 15, events
        assert events.count("Fine-tuning job started") == 1  # resumed, not started over
        models = [m.id for m in c2.models.list()]
        assert all(d.fine_tuned_model in models for d in done)
    finally:
        s2.stop()


# ---- tuneworth climb with L4 on this server ---------------------------------------------------


@needs_trainer
def test_climb_runs_l4_as_a_job_on_the_server(server: Server, tmp_path: Path) -> None:
    """``tuneworth climb`` with ``openai/tiny`` and the server's base URL: L1 is answered by the server, L4
    uploads the split, runs a fine-tuning job here, polls it, and scores the ``ft:`` model on the test split."""
    import os

    from tests.helpers.data import write_label_task

    root = write_label_task(tmp_path / "task", f"""
[model]
name = "openai/tiny"
base_url = "{server.base_url}"
max_tokens = 4
[rungs.L1]
variants = ["base"]
[rungs.L4]
enabled = true
suffix = "climb"
n_epochs = 1
poll_seconds = 0.2
""", name="served-l4", seed=3, n_rows=40, validation_size=8, test_size=8)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    proc = subprocess.run(
        [sys.executable, "-m", "tuneworth", "climb", str(root), "--rungs", "L1,L4", "--out", str(tmp_path / "run"),
         "--no-cache", "--json"],
        capture_output=True, text=True, timeout=300, env={**env, "TUNEWORTH_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    rows = {r["name"]: r for r in summary["rungs"]}
    training = summary["training"]
    assert training["where"] == "remote" and training["model_id"].startswith("ft:tiny:climb:")
    assert training["trained_tokens"] > 0 and training["base_url"].startswith(server.base_url)
    assert rows["L4"]["config"] == {"model": f"openai/{training['model_id']}"}
    assert rows["L4"]["n"] == rows["L1"]["n"] == 8
    c = server.client()
    job = c.fine_tuning.jobs.retrieve(training["job_id"])  # the job really ran on this server
    assert job.status == "succeeded" and job.fine_tuned_model == training["model_id"]
    assert training["model_id"] in [m.id for m in c.models.list()]

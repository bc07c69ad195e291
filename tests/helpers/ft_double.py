"""A small OpenAI-shaped fine-tuning server for offline tests (FastAPI, real HTTP on localhost).

Files, fine-tuning jobs (validating_files -> running -> succeeded, advanced one state per retrieve),
events, checkpoints, cancel, and chat completions. A job "trains" a bag-of-words label model on its
training file, so the fine-tuned model really answers from what it was given; the base model always
answers "neutral". A job whose training file has a user message containing "CORRUPT" fails the way
OpenAI reports failures (``error.code/message/param``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, File, Form, Request, UploadFile


class DoubleState:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.models: dict[str, dict[str, Counter[str]]] = {}
        self.cancelled: list[str] = []


def _learn(data: bytes) -> tuple[dict[str, Counter[str]], int, str | None]:
    words: dict[str, Counter[str]] = defaultdict(Counter)
    tokens = 0
    for lineno, line in enumerate(data.decode().splitlines(), 1):
        msgs = json.loads(line)["messages"]
        user = next(m["content"] for m in reversed(msgs) if m["role"] == "user")
        if "CORRUPT" in user:
            return {}, 0, f"line {lineno}"
        answer = msgs[-1]["content"]
        tokens += sum(len(m["content"].split()) for m in msgs)
        for w in user.lower().split():
            words[w][answer] += 1
    return words, tokens, None


def _answer(model: dict[str, Counter[str]] | None, text: str) -> str:
    if model is None:
        return "neutral"
    votes: Counter[str] = Counter()
    for w in text.lower().split():
        for label, n in model.get(w, Counter()).items():
            votes[label] += n / sum(model[w].values())
    return votes.most_common(1)[0][0] if votes else "neutral"


def build_app(state: DoubleState) -> FastAPI:
    app = FastAPI()

    def event(job_id: str, message: str) -> None:
        n = len(state.events[job_id])
        state.events[job_id].append(
            {
                "id": f"ftevent-{job_id}-{n}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()) + n,
                "level": "info",
                "message": message,
                "type": "message",
                "data": {},
            }
        )

    @app.post("/v1/files")
    async def create_file(
        file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()]
    ) -> dict[str, Any]:
        data = await file.read()
        fid = f"file-{len(state.files)}"
        state.files[fid] = data
        return {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": file.filename,
            "purpose": purpose,
            "status": "processed",
        }

    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request) -> dict[str, Any]:
        body = await request.json()
        jid = f"ftjob-{len(state.jobs)}"
        state.jobs[jid] = {
            "id": jid,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "model": body["model"],
            "organization_id": "org-test",
            "result_files": [],
            "seed": body.get("seed") or 0,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "hyperparameters": {k: v for k, v in (body.get("hyperparameters") or {}).items()},
            "suffix": body.get("suffix"),
        }
        event(jid, f"Created fine-tuning job: {jid}")
        return state.jobs[jid]

    def advance(job: dict[str, Any]) -> None:
        jid = job["id"]
        if job["status"] == "validating_files":
            model, tokens, bad = _learn(state.files[job["training_file"]])
            if bad:
                job["status"] = "failed"
                job["error"] = {
                    "code": "invalid_training_file",
                    "param": "training_file",
                    "message": f"The training file has a corrupt example at {bad}.",
                }
                event(jid, "Fine-tuning job failed")
                return
            job["status"] = "running"
            job["_model"], job["_tokens"] = model, tokens
            event(jid, "Fine-tuning job started")
        elif job["status"] == "running":
            epochs = job["hyperparameters"].get("n_epochs")
            epochs = 3 if epochs in (None, "auto") else int(epochs)
            name = f"ft:{job['model']}:{job['suffix'] or 'org'}:{jid[-6:]}"
            for e in range(1, epochs + 1):
                event(jid, f"Step {e * 10}/{epochs * 10}: training loss={1.0 / e:.3f}")
            state.models[name] = job.pop("_model")
            job.update(
                status="succeeded",
                fine_tuned_model=name,
                finished_at=job["created_at"] + 42,
                trained_tokens=job.pop("_tokens") * epochs,
            )
            job["hyperparameters"] = {"n_epochs": epochs, "batch_size": 1, "learning_rate_multiplier": 1.0}
            event(jid, "The job has successfully completed")

    def public(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_") and k != "suffix"}

    @app.get("/v1/fine_tuning/jobs/{jid}")
    async def retrieve(jid: str) -> dict[str, Any]:
        advance(state.jobs[jid])
        return public(state.jobs[jid])

    @app.get("/v1/fine_tuning/jobs/{jid}/events")
    async def events(jid: str) -> dict[str, Any]:
        return {"object": "list", "data": list(reversed(state.events[jid])), "has_more": False}

    @app.get("/v1/fine_tuning/jobs/{jid}/checkpoints")
    async def checkpoints(jid: str) -> dict[str, Any]:
        job = state.jobs[jid]
        data = []
        if job["status"] == "succeeded":
            data.append(
                {
                    "id": f"ftckpt-{jid}",
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": job["finished_at"],
                    "fine_tuned_model_checkpoint": f"{job['fine_tuned_model']}:ckpt-step-30",
                    "fine_tuning_job_id": jid,
                    "step_number": 30,
                    "metrics": {"step": 30, "train_loss": 0.33, "valid_loss": 0.4},
                }
            )
        return {"object": "list", "data": data, "has_more": False}

    @app.post("/v1/fine_tuning/jobs/{jid}/cancel")
    async def cancel(jid: str) -> dict[str, Any]:
        state.jobs[jid]["status"] = "cancelled"
        state.cancelled.append(jid)
        return public(state.jobs[jid])

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        user = body["messages"][-1]["content"]
        text = _answer(state.models.get(body["model"]), user)
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                "completion_tokens": 1,
                "total_tokens": 0,
            },
        }

    return app


class DoubleServer:
    """Run the double on a free localhost port in a background thread."""

    def __init__(self) -> None:
        self.state = DoubleState()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(build_app(self.state), host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> DoubleServer:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

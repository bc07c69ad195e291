"""``/v1/models``, ``/v1/chat/completions`` (incl. SSE streaming) and ``/v1/embeddings``.

Chat requests go through the dynamic ``Batcher``. A streamed answer is generated in its batch like any
other, and its tokens are sent as ``chat.completion.chunk`` events while the batch decodes (role first,
content deltas, finish reason, optional usage, then ``data: [DONE]``; see ``stream.py``); errors found
before generation are plain JSON errors.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tuneworth.errors import TuneworthError
from tuneworth.providers.base import ChatRequest
from tuneworth.serve.errors import APIError, bad_request, from_tuneworth, not_found
from tuneworth.serve.objects import model_object
from tuneworth.serve.params import field, json_body, number_in
from tuneworth.serve.store import new_id
from tuneworth.serve.stream import ChatStream, ChunkWriter, error_event

router = APIRouter()
EMBEDDING_MODELS = ("all-MiniLM-L6-v2",)
_STARTED = int(time.time())


@router.get("/v1/models")
def list_models(request: Request) -> dict[str, Any]:
    state = request.app.state
    data = [model_object(name, _STARTED, "tuneworth") for name in state.pool.bases]
    data += [model_object(m, _STARTED, "tuneworth") for m in EMBEDDING_MODELS]
    data += [model_object(r["id"], r["created_at"], "user") for r in state.store.models()
             if r["base"] in state.pool.bases]
    return {"object": "list", "data": data}


@router.get("/v1/models/{model_id:path}")
def get_model(request: Request, model_id: str) -> dict[str, Any]:
    state = request.app.state
    if model_id in state.pool.bases or model_id in EMBEDDING_MODELS:
        return model_object(model_id, _STARTED, "tuneworth")
    row = state.store.get_model(model_id)
    if row is None or not state.pool.exists(model_id):
        raise APIError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
    return model_object(row["id"], row["created_at"], "user")


def _content(msg: dict[str, Any], i: int) -> str:
    content = msg.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text is supported
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise bad_request(f"messages[{i}].content: only text parts are supported", param=f"messages[{i}].content")
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise bad_request(f"Invalid type for 'messages[{i}].content'.", param=f"messages[{i}].content")


def parse_chat(body: dict[str, Any], max_tokens_limit: int) -> tuple[str, ChatRequest, bool, bool]:
    """(model, request, stream, include_usage) from a chat body, or an APIError naming the parameter."""
    model = field(body, "model", str, required=True)
    raw_messages = field(body, "messages", list, required=True)
    if not raw_messages:
        raise bad_request("'messages' must contain at least one message.", param="messages")
    messages = []
    for i, m in enumerate(raw_messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise bad_request(f"messages[{i}] must be an object with a 'role'.", param=f"messages[{i}]")
        role = "system" if m["role"] == "developer" else m["role"]
        messages.append({"role": role, "content": _content(m, i)})
    n = field(body, "n", int, default=1)
    if n != 1:
        raise bad_request("This server supports only n=1.", param="n", code="invalid_value")
    # max_completion_tokens (the newer name) wins over the deprecated max_tokens, as at OpenAI.
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = field(body, name, int, default=256)
    if not 1 <= max_tokens <= max_tokens_limit:
        raise bad_request(f"{name} must be between 1 and {max_tokens_limit}.", param=name, code="invalid_value")
    temperature = number_in(body, "temperature", 0, 2, 1.0)
    top_p = number_in(body, "top_p", 0, 1, 1.0)
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (not isinstance(stop, list) or len(stop) > 4 or
                             not all(isinstance(s, str) and s for s in stop)):
        raise bad_request("'stop' must be a string or an array of up to 4 non-empty strings.", param="stop")
    seed = field(body, "seed", int)
    response_format = field(body, "response_format", dict)
    if response_format is not None:
        kind = response_format.get("type")
        if kind not in ("text", "json_object", "json_schema"):
            raise bad_request(f"Invalid response_format type {kind!r}.", param="response_format.type")
        if kind == "json_object" and not any("json" in m["content"].lower() for m in messages):
            raise bad_request(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                "'json_object'.", param="messages",
            )
        if kind == "json_schema" and not isinstance(response_format.get("json_schema"), dict):
            raise bad_request("response_format.json_schema must be an object.", param="response_format.json_schema")
        if kind == "text":
            response_format = None
    stream = bool(field(body, "stream", bool, default=False))
    options = field(body, "stream_options", dict, default={})
    logprobs = _logprobs(body, stream)
    request = ChatRequest(
        messages=tuple(messages),
        max_tokens=max_tokens,
        temperature=float(temperature or 0.0),
        stop=tuple(stop or ()),
        response_format=response_format,
        seed=seed,
        top_p=float(1.0 if top_p is None else top_p),
        logprobs=logprobs,
    )
    return model, request, stream, bool(options.get("include_usage"))


def _logprobs(body: dict[str, Any], stream: bool) -> int | None:
    """``logprobs`` (bool) and ``top_logprobs`` (0-20) as the number of alternatives, None when off."""
    on = bool(field(body, "logprobs", bool, default=False))
    top = field(body, "top_logprobs", int)
    if top is not None and not 0 <= top <= 20:
        raise bad_request(f"Invalid 'top_logprobs': must be between 0 and 20, got {top}.", param="top_logprobs",
                          code="invalid_value")
    if top is not None and not on:
        raise bad_request("'logprobs' must be set to true when 'top_logprobs' is used.", param="logprobs")
    if on and stream:
        raise bad_request("This server does not return 'logprobs' with 'stream': true; ask without streaming.",
                          param="logprobs", code="unsupported_value")
    return (top or 0) if on else None


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
    state = request.app.state
    body = await json_body(request)
    model, chat, stream, include_usage = parse_chat(body, state.config.max_tokens_limit)
    if not state.pool.exists(model):
        raise APIError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    cid, created = new_id("chatcmpl"), int(time.time())
    if stream:
        try:
            started = await ChatStream(state.batcher, model, chat, ChunkWriter(cid, created, model, include_usage)).start()
        except TuneworthError as e:
            raise from_tuneworth(e) from None
        return StreamingResponse(started.events(_stream_error), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    try:
        completion = await state.batcher.submit(model, chat)
    except TuneworthError as e:
        raise from_tuneworth(e) from None
    if completion.error:
        raise APIError(500, f"generation failed: {completion.error}", type="server_error")
    # How many requests shared this one's forward pass (dynamic batching), for clients and benchmarks.
    headers = {"x-tuneworth-batch-size": str(completion.meta.get("batch_size", 1))}
    usage = {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.prompt_tokens + completion.completion_tokens,
    }
    return JSONResponse(headers=headers, content={
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "tuneworth",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": completion.text, "refusal": None},
            "logprobs": {"content": completion.meta["logprobs"], "refusal": None}
            if chat.logprobs is not None and "logprobs" in completion.meta else None,
            "finish_reason": completion.finish_reason,
        }],
        "usage": usage,
    })


def _stream_error(e: Exception) -> str:
    if isinstance(e, TuneworthError):
        err = from_tuneworth(e)
        return error_event(err.message, err.type, err.code)
    return error_event(str(e) or type(e).__name__)


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    model = field(body, "model", str, required=True)
    if model not in EMBEDDING_MODELS:
        raise APIError(404, f"The embedding model '{model}' does not exist; this server embeds with "
                       f"{', '.join(EMBEDDING_MODELS)}", param="model", code="model_not_found")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise bad_request("'input' must be a non-empty string or an array of non-empty strings "
                          "(token arrays are not supported).", param="input")
    if len(texts) > 2048:
        raise bad_request("'input' may hold at most 2048 strings.", param="input")
    fmt = field(body, "encoding_format", str, default="float")
    if fmt not in ("float", "base64"):
        raise bad_request("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")

    def run() -> tuple[Any, int]:
        from tuneworth.embeddings.load import load_embedder

        embedder = load_embedder()
        vectors = embedder.embed(texts)
        tok = embedder.tokenizer  # type: ignore[attr-defined]
        tokens = sum(len(ids) for ids in tok(texts, truncation=True)["input_ids"])
        return vectors, tokens

    try:
        vectors, tokens = await run_in_threadpool(run)
    except TuneworthError as e:
        raise from_tuneworth(e) from None
    data = []
    for i, v in enumerate(vectors):
        emb: Any = base64.b64encode(v.astype("<f4").tobytes()).decode() if fmt == "base64" else v.tolist()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


__all__ = ["not_found", "router"]

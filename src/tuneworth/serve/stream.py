"""Token streaming for ``/v1/chat/completions`` with ``stream: true``: server-sent ``chat.completion.chunk``
events as the batch decodes.

The generation thread hands each streamed row its answer so far after every decoding step
(``Batcher.submit(..., on_text=...)``); ``safe_prefix`` turns that into the part that is certain to
begin the final answer (the non-streamed answer is stripped, cut at stop strings and, for JSON
formats, at the end of the first object), and only what grows past the text already sent goes out as
a content delta. When the batch ends, the rest of the final answer follows, then the finish reason,
the usage chunk (``stream_options.include_usage``) and ``data: [DONE]``. Concatenated deltas equal
the non-streamed answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from tuneworth.data.text import json_object_end
from tuneworth.providers.base import ChatRequest, Completion


def safe_prefix(text: str, stops: tuple[str, ...], wants_json: bool) -> str:
    """The longest prefix of the answer so far that the final answer is sure to start with."""
    t = text.lstrip()
    for s in stops:
        if s in t:
            t = t[: t.index(s)]
    if wants_json and (end := json_object_end(t)) is not None:
        t = t[:end]
    t = t.rstrip("\ufffd")  # a character whose bytes are not all decoded yet
    held = max((k for s in stops for k in range(1, len(s)) if t.endswith(s[:k])), default=0)
    if held:  # may be the start of a stop string
        t = t[: len(t) - held]
    return t.rstrip()  # trailing whitespace may end up stripped


class ChunkWriter:
    """SSE lines for one streamed completion, in OpenAI's ``chat.completion.chunk`` shape."""

    def __init__(self, cid: str, created: int, model: str, include_usage: bool) -> None:
        self.base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": "tuneworth"}
        self.include_usage = include_usage

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> str:
        obj: dict[str, Any] = {**self.base, "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if self.include_usage:
            obj["usage"] = None
        return f"data: {json.dumps(obj)}\n\n"

    def usage(self, usage: dict[str, int]) -> str:
        return f"data: {json.dumps({**self.base, 'choices': [], 'usage': usage})}\n\n"


def error_event(message: str, type_: str = "server_error", code: str | None = None) -> str:
    """An error after the stream has begun (the status line is already sent): the SDK raises it."""
    return f"data: {json.dumps({'error': {'message': message, 'type': type_, 'param': None, 'code': code}})}\n\n"


class ChatStream:
    """One streamed request: ``await start()`` submits it and returns once its first token is decoded
    (or it has failed: then the exception propagates, so the client gets a plain JSON error with the
    right status), after which ``events()`` yields the SSE lines."""

    def __init__(self, batcher: Any, model: str, chat: ChatRequest, writer: ChunkWriter) -> None:
        self.batcher, self.model, self.chat, self.writer = batcher, model, chat, writer
        self.updates: asyncio.Queue[str | None] = asyncio.Queue()
        self.task: asyncio.Future[Completion] | None = None
        self.first: str | None = None

    async def start(self) -> ChatStream:
        loop = asyncio.get_running_loop()

        def listen(text: str) -> None:  # on the generation thread
            loop.call_soon_threadsafe(self.updates.put_nowait, text)

        task = self.task = asyncio.ensure_future(self.batcher.submit(self.model, self.chat, on_text=listen))
        task.add_done_callback(lambda _: self.updates.put_nowait(None))
        try:
            self.first = await self.updates.get()
        except asyncio.CancelledError:
            task.cancel()
            raise
        if self.first is None:
            task.result()  # raises what generation raised, before any byte of the response is sent
        return self

    async def events(self, on_error: Callable[[Exception], str]) -> AsyncIterator[str]:
        """The SSE lines; ``on_error(exc)`` renders a failure after the stream has begun."""
        assert self.task is not None
        task, chat, writer = self.task, self.chat, self.writer
        wants_json = chat.stop_after_json or bool(
            chat.response_format and str(chat.response_format.get("type", "")).startswith("json"))
        try:
            yield writer.delta({"role": "assistant", "content": ""})
            sent = ""
            text = self.first
            while text is not None:
                safe = safe_prefix(text, chat.stop, wants_json)
                if len(safe) > len(sent) and safe.startswith(sent):
                    yield writer.delta({"content": safe[len(sent):]})
                    sent = safe
                text = await self.updates.get()
            try:
                completion: Completion = task.result()
                if completion.error:
                    raise RuntimeError(f"generation failed: {completion.error}")
            except Exception as e:  # reported to the client in the stream
                yield on_error(e)
                return
            final = completion.text
            # The final answer starts with what was sent (safe_prefix); the guard keeps a tokenizer
            # surprise from duplicating text.
            rest = final[len(sent):] if final.startswith(sent) else ""
            if rest:
                yield writer.delta({"content": rest})
            yield writer.delta({}, completion.finish_reason)
            if writer.include_usage:
                yield writer.usage({
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "total_tokens": completion.prompt_tokens + completion.completion_tokens,
                })
            yield "data: [DONE]\n\n"
        finally:
            if not task.done():  # the client went away: drop the request if its batch has not started
                task.cancel()

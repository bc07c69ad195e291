"""The least a chat server can do, for bench_api_ceiling.py's ``--server bare``: a bare asyncio
HTTP/1.1 keep-alive server (uvloop when installed) that reads each request by Content-Length, sleeps
the latency and writes one fixed, pre-built chat-completion answer. No routing, JSON or faults.
Usage: python benchmarks/bare_chat_server.py PORT [LATENCY_MS]
"""

from __future__ import annotations

import asyncio
import json
import sys

BODY = json.dumps(
    {
        "id": "chatcmpl-bare",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


def main() -> None:
    port = int(sys.argv[1])
    latency = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.2

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                length = next((int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length")), 0)
                await reader.readexactly(length)
                await asyncio.sleep(latency)
                writer.write(ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


if __name__ == "__main__":
    main()

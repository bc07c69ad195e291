"""Helpers for the server tests: a tiny model on disk, chat JSONL, a real server in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


def smollm2_dir() -> Path:
    from tuneworth.providers.local.provider import converted_dir

    return converted_dir("smollm2-135m")


def build_tiny_model(path: Path) -> Path:
    """A 2-layer Llama (hidden 32) with SmolLM2's tokenizer and chat template: fast and real."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    src = smollm2_dir()
    path.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, path / name)
    tok_cfg = json.loads((src / "config.json").read_text())
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tok_cfg["vocab_size"], hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tok_cfg.get("bos_token_id"), eos_token_id=tok_cfg.get("eos_token_id"),
        pad_token_id=tok_cfg.get("pad_token_id"), tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # special tokens never win greedy decoding, so answers are visible text
        model.lm_head.weight[:32] = 0.0
    model.save_pretrained(path)
    return path


def chat_rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    labels = ["red", "green", "blue"]
    return [
        {"messages": [
            {"role": "system", "content": "Name the colour."},
            {"role": "user", "content": f"item {i + offset} is {labels[(i + offset) % 3]}"},
            {"role": "assistant", "content": labels[(i + offset) % 3]},
        ]}
        for i in range(n)
    ]


def jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``tuneworth serve`` in a subprocess (its own process group, so kill -9 can take the worker too)."""

    def __init__(self, data_dir: Path, model_dir: Path, home: Path, *extra: str) -> None:
        self.data_dir, self.model_dir, self.home, self.extra = data_dir, model_dir, home, extra
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.api_key: str | None = None
        if "--api-key" in extra:
            self.api_key = extra[extra.index("--api-key") + 1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120) -> Server:
        env = {**os.environ, "TUNEWORTH_HOME": str(self.home), "TUNEWORTH_CACHE": "0"}
        cmd = [sys.executable, "-m", "tuneworth", "serve", "--port", str(self.port), "--data-dir",
               str(self.data_dir), "--model", f"tiny={self.model_dir}", *self.extra]
        self.log = (self.data_dir.parent / f"server-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        client = self.client(max_retries=0, timeout=5)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.read_log()}")
            try:
                client.models.list()
                return self
            except Exception as e:
                if type(e).__name__ not in ("APIConnectionError", "APITimeoutError"):
                    return self  # it answered (e.g. 401): it is up
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def read_log(self) -> str:
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")[-3000:]

    def client(self, **kw: Any) -> Any:
        import openai

        kw.setdefault("api_key", self.api_key or "none")
        return openai.OpenAI(base_url=self.base_url, **kw)

    def async_client(self, **kw: Any) -> Any:
        import openai

        kw.setdefault("api_key", self.api_key or "none")
        return openai.AsyncOpenAI(base_url=self.base_url, **kw)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_for(fn: Any, predicate: Any, timeout: float = 120, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value}")
        time.sleep(interval)

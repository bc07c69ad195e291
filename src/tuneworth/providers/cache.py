"""A persistent completion cache (SQLite, WAL) so the same request is never paid for twice.

Keyed by a hash of the model identity (provider/name, base URL, weights tag) and every request
parameter (messages, max_tokens, temperature, stop, response_format, seed). Only deterministic
requests are cached (temperature 0, or a fixed seed); errors are never cached. A hit keeps the
latency and token counts measured when it was generated and is marked ``cached`` in the record.
Location: ``$TUNEWORTH_HOME/cache.sqlite``; ``TUNEWORTH_CACHE=0`` or ``--no-cache`` turns it off
(``--no-cache`` also turns off the embedding cache, ``embed_cache.py``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from tuneworth.paths import caches_enabled as enabled_by_env  # noqa: F401  (re-exported)
from tuneworth.paths import caches_off as caches_off
from tuneworth.paths import home
from tuneworth.providers.base import ChatRequest, Completion

_FIELDS = tuple(f.name for f in fields(Completion))


def default_path() -> Path:
    return home() / "cache.sqlite"


def cacheable(request: ChatRequest) -> bool:
    return request.temperature == 0 or request.seed is not None


def request_key(model_identity: str, request: ChatRequest) -> str:
    payload = json.dumps(
        {"model": model_identity, "request": request.key()}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class CompletionCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process being killed (only power loss can drop the last
        # ones), and costs no fsync, so streaming providers can commit every answer as it arrives.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, model TEXT NOT NULL, created REAL NOT NULL, response TEXT NOT NULL)"
        )
        self.db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, response in self.db.execute(
                f"SELECT key, response FROM completions WHERE key IN ({marks})", chunk
            ):
                data: dict[str, Any] = json.loads(response)
                c = Completion(**data)
                c.meta = {**c.meta, "cached": True}
                found[key] = c
        return found

    def put_many(self, model: str, items: Sequence[tuple[str, Completion]]) -> None:
        rows = []
        now = time.time()
        for key, c in items:
            if c.error is not None:
                continue  # errors are never cached
            data = {f: getattr(c, f) for f in _FIELDS}  # dataclasses.asdict, without its deep copies
            data["meta"] = {k: v for k, v in c.meta.items() if k != "cached"}
            rows.append((key, model, now, json.dumps(data, ensure_ascii=False)))
        if rows:
            self.db.executemany("INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?)", rows)
            self.db.commit()

    def stats(self) -> dict[str, Any]:
        by_model = dict(
            self.db.execute(
                "SELECT model, COUNT(*) FROM completions GROUP BY model ORDER BY model"
            ).fetchall()
        )
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {
            "path": str(self.path),
            "entries": sum(by_model.values()),
            "bytes": size,
            "by_model": by_model,
        }

    def clear(self) -> int:
        n = int(self.db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])
        self.db.execute("DELETE FROM completions")
        self.db.commit()
        self.db.execute("VACUUM")
        return n

    def close(self) -> None:
        self.db.close()

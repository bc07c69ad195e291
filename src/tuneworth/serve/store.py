"""Persistent state: SQLite (WAL) for files, jobs, events, checkpoints and models; blobs by content hash.

The server and the worker process each open their own connection; WAL lets the API read while the
worker writes. File contents live once under ``files/<sha256[:2]>/<sha256>`` whatever their id, so a
path is never built from a client-supplied string. Every write is a short transaction, so a kill -9
leaves the database consistent; the status machine's recovery lives in ``worker``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY, filename TEXT NOT NULL, purpose TEXT NOT NULL, bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL, sha256 TEXT NOT NULL, examples INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, model TEXT NOT NULL, base_spec TEXT NOT NULL,
  training_file TEXT NOT NULL,
  validation_file TEXT, suffix TEXT, seed INTEGER NOT NULL, hyperparameters TEXT NOT NULL,
  method_type TEXT NOT NULL DEFAULT 'supervised', status TEXT NOT NULL, fine_tuned_model TEXT,
  started_at INTEGER, finished_at INTEGER, trained_tokens INTEGER, error TEXT, estimated_finish INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0, metadata TEXT, result_files TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL, type TEXT NOT NULL, data TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL, model TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints(job_id, seq);
CREATE TABLE IF NOT EXISTS models (
  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, job_id TEXT NOT NULL, base TEXT NOT NULL,
  adapter_dir TEXT NOT NULL
);
"""

ID_PATTERNS = {
    "file": re.compile(r"^file-[A-Za-z0-9]{1,64}$"),
    "job": re.compile(r"^ftjob-[A-Za-z0-9]{1,64}$"),
}
TERMINAL = ("succeeded", "failed", "cancelled")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def valid_id(kind: str, ident: str) -> bool:
    return bool(ID_PATTERNS[kind].match(ident))


class Store:
    """One SQLite database plus the blob directory under ``data_dir``. Thread-safe (one lock)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.blobs = self.data_dir / "files"
        self.tmp = self.data_dir / "tmp"
        self.jobs_dir = self.data_dir / "jobs"
        for d in (self.blobs, self.tmp, self.jobs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.data_dir / "state.sqlite", check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        with self.tx() as c:
            c.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self.db
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self.db.execute(sql, args).fetchall())

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    # ---- blobs ----------------------------------------------------------------------------------

    def put_blob(self, src: BinaryIO, limit: int) -> tuple[str, int, Path]:
        """Stream ``src`` into the store; returns (sha256, size, path). Raises ValueError past ``limit``."""
        h = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(size)
                    h.update(chunk)
                    out.write(chunk)
            sha = h.hexdigest()
            target = self.blob_path(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)  # atomic: a blob is either whole or absent
            return sha, size, target
        finally:
            tmp.unlink(missing_ok=True)

    def blob_path(self, sha: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ValueError(f"bad content hash {sha!r}")
        return self.blobs / sha[:2] / sha

    # ---- files ----------------------------------------------------------------------------------

    def add_file(self, filename: str, purpose: str, size: int, sha: str, examples: int) -> sqlite3.Row:
        fid = new_id("file")
        with self.tx() as c:
            c.execute(
                "INSERT INTO files (id, filename, purpose, bytes, created_at, sha256, examples)"
                " VALUES (?,?,?,?,?,?,?)",
                (fid, filename, purpose, size, now(), sha, examples),
            )
        row = self.get_file(fid)
        assert row is not None
        return row

    def get_file(self, fid: str) -> sqlite3.Row | None:
        return self.one("SELECT rowid AS seq, * FROM files WHERE id=?", (fid,))

    def delete_file(self, fid: str) -> bool:
        with self.tx() as c:
            row = c.execute("SELECT sha256 FROM files WHERE id=?", (fid,)).fetchone()
            if row is None:
                return False
            c.execute("DELETE FROM files WHERE id=?", (fid,))
            still = c.execute("SELECT 1 FROM files WHERE sha256=?", (row["sha256"],)).fetchone()
        if still is None:
            self.blob_path(row["sha256"]).unlink(missing_ok=True)
        return True

    def page(
        self, table: str, after: str | None, limit: int, where: str = "", args: tuple[Any, ...] = (),
        order: str = "desc",
    ) -> tuple[list[sqlite3.Row], bool]:
        """Cursor pagination: rows after the row with id ``after`` in ``order``; returns (rows, has_more)."""
        seq = "rowid" if table in ("files", "jobs") else "seq"
        op, direction = ("<", "DESC") if order == "desc" else (">", "ASC")
        clauses, params = ([where] if where else []), list(args)
        if after:
            clauses.append(f"{seq} {op} (SELECT {seq} FROM {table} WHERE id=?)")
            params.append(after)
        sql = f"SELECT {seq} AS seq_, * FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {seq} {direction} LIMIT ?"
        rows = self.query(sql, (*params, limit + 1))
        return rows[:limit], len(rows) > limit

    # ---- jobs -----------------------------------------------------------------------------------

    def get_job(self, jid: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM jobs WHERE id=?", (jid,))

    def add_event(
        self, job_id: str, message: str, *, level: str = "info", type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO events (id, job_id, created_at, level, message, type, data) VALUES (?,?,?,?,?,?,?)",
                (new_id("ftevent"), job_id, now(), level, message, type, json.dumps(data or {})),
            )

    def set_status(self, job_id: str, status: str, *, only_from: tuple[str, ...] = (), **fields: Any) -> bool:
        """Move a job to ``status`` (only from the given statuses, when named). Returns whether it moved."""
        cols = {"status": status, **fields}
        sets = ", ".join(f"{k}=?" for k in cols)
        vals = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in cols.values()]
        sql = f"UPDATE jobs SET {sets} WHERE id=?"
        vals.append(job_id)
        if only_from:
            sql += f" AND status IN ({','.join('?' * len(only_from))})"
            vals.extend(only_from)
        with self.tx() as c:
            return c.execute(sql, vals).rowcount == 1

    def update_job(self, job_id: str, **fields: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        vals = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in fields.values()]
        with self.tx() as c:
            c.execute(f"UPDATE jobs SET {sets} WHERE id=?", (*vals, job_id))

    def add_checkpoint(self, job_id: str, step: int, metrics: dict[str, Any], model: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO checkpoints (id, job_id, created_at, step, metrics, model) VALUES (?,?,?,?,?,?)",
                (new_id("ftckpt"), job_id, now(), step, json.dumps(metrics), model),
            )

    def add_model(self, model_id: str, job_id: str, base: str, adapter_dir: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO models (id, created_at, job_id, base, adapter_dir) VALUES (?,?,?,?,?)",
                (model_id, now(), job_id, base, adapter_dir),
            )

    def get_model(self, model_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM models WHERE id=?", (model_id,))

    def models(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM models ORDER BY created_at")

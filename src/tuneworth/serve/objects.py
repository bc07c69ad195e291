"""Rows to OpenAI response objects (the shapes the official client parses)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

HYPER_KEYS = ("n_epochs", "batch_size", "learning_rate_multiplier")


def file_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": row["created_at"],
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": "processed",
        "status_details": None,
        "expires_at": None,
    }


def job_object(row: sqlite3.Row) -> dict[str, Any]:
    hp = json.loads(row["hyperparameters"])
    public = {k: hp.get(k, "auto") for k in HYPER_KEYS}
    return {
        "id": row["id"],
        "object": "fine_tuning.job",
        "created_at": row["created_at"],
        "error": json.loads(row["error"]) if row["error"] else None,
        "fine_tuned_model": row["fine_tuned_model"],
        "finished_at": row["finished_at"],
        "hyperparameters": public,
        "method": {"type": row["method_type"], row["method_type"]: {"hyperparameters": public}},
        "model": row["model"],
        "organization_id": "org-local",
        "result_files": json.loads(row["result_files"]),
        "seed": row["seed"],
        "status": row["status"],
        "trained_tokens": row["trained_tokens"],
        "training_file": row["training_file"],
        "validation_file": row["validation_file"],
        "estimated_finish": row["estimated_finish"],
        "integrations": [],
        "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
        "user_provided_suffix": row["suffix"],
    }


def event_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "fine_tuning.job.event",
        "created_at": row["created_at"],
        "level": row["level"],
        "message": row["message"],
        "type": row["type"],
        "data": json.loads(row["data"]) if row["data"] else {},
    }


def checkpoint_object(row: sqlite3.Row) -> dict[str, Any]:
    metrics = json.loads(row["metrics"])
    return {
        "id": row["id"],
        "object": "fine_tuning.job.checkpoint",
        "created_at": row["created_at"],
        "fine_tuned_model_checkpoint": row["model"],
        "fine_tuning_job_id": row["job_id"],
        "metrics": {"step": float(row["step"]), **metrics},
        "step_number": row["step"],
    }


def model_object(model_id: str, created: int, owned_by: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }

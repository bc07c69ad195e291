"""Fine-tuning files from a task: the frozen split's train and validation parts as OpenAI chat JSONL.

Each line is the conversation L4 sends at inference (its short system prompt, earlier turns, the
user message) followed by the ideal answer as the assistant message. Test items are never written.
Files are written under temporary names and renamed, so a failed prepare leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from tuneworth.config.task import Task
from tuneworth.data.example import Example


def l4_system(task: Task) -> str:
    """The system prompt a fine-tuned model gets: ``rungs.L4.system`` if set, else the user's own prompt,
    without format rules or demonstrations."""
    return (task.rungs.L4.system or task.prompt.system).strip()


def chat_line(task: Task, ex: Example) -> dict[str, Any]:
    msgs = [{"role": "system", "content": l4_system(task)}]
    msgs += [{"role": role, "content": content} for role, content in ex.history]
    msgs += [{"role": "user", "content": ex.input}, {"role": "assistant", "content": ex.output}]
    return {"messages": msgs}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prepare(task: Task, out_dir: Path, fraction: float = 1.0) -> dict[str, Any]:
    """Write ``train.jsonl`` and ``validation.jsonl`` for ``task`` into ``out_dir``; return counts and paths.

    ``fraction`` < 1 keeps a seeded random subset of train (the learning curve); validation stays whole.
    """
    from tuneworth.data.load import load_split

    split, info = load_split(task)
    train = list(split.train)
    if fraction < 1.0:
        keep = max(1, round(len(train) * fraction))
        train = random.Random(task.seed).sample(train, keep)
    out_dir = Path(out_dir)
    train_path, valid_path = out_dir / "train.jsonl", out_dir / "validation.jsonl"
    write_jsonl(train_path, [chat_line(task, ex) for ex in train])
    write_jsonl(valid_path, [chat_line(task, ex) for ex in split.validation])
    return {
        "train_file": str(train_path),
        "validation_file": str(valid_path),
        "train": len(train),
        "validation": len(split.validation),
        "test": len(split.test),
        "fraction": fraction,
        "fingerprints": info.fingerprints,
    }

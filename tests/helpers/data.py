"""The toy review-labelling task: rows, chat JSONL, task files and an oracle labeller."""

from __future__ import annotations

import json
from pathlib import Path

LABELS = ["positive", "negative", "neutral"]
WORDS = {
    "positive": ["love", "great", "excellent", "wonderful", "perfect", "happy"],
    "negative": ["broken", "awful", "terrible", "refund", "angry", "late"],
    "neutral": ["arrived", "blue", "tuesday", "manual", "box", "size"],
}


def make_label_rows(n: int = 60) -> list[tuple[str, str]]:
    rows = []
    for i in range(n):
        label = LABELS[i % 3]
        w = WORDS[label][i % 6]
        rows.append((f"review {i}: it was {w} and item number {i}", label))
    return rows


def write_chat(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for inp, out in rows:
            f.write(
                json.dumps(
                    {"messages": [{"role": "user", "content": inp}, {"role": "assistant", "content": out}]}
                )
                + "\n"
            )


LABEL_TASK_HEADER = """
name = "{name}"
seed = {seed}
[data]
path = "data.jsonl"
validation_size = {validation_size}
test_size = {test_size}
[prompt]
system = "Classify the review."
[output]
kind = "label"
labels = ["positive", "negative", "neutral"]
"""


def write_label_task(
    root: Path,
    rest: str,
    *,
    name: str = "toy",
    seed: int = 7,
    rows: list[tuple[str, str]] | None = None,
    n_rows: int = 60,
    validation_size: int = 12,
    test_size: int = 15,
) -> Path:
    """The toy review-labelling task in ``root``: its data, the shared header, then ``rest`` ([model], rungs)."""
    root.mkdir(parents=True, exist_ok=True)
    write_chat(root / "data.jsonl", rows if rows is not None else make_label_rows(n_rows))
    header = LABEL_TASK_HEADER.format(
        name=name, seed=seed, validation_size=validation_size, test_size=test_size
    )
    (root / "tuneworth.toml").write_text(header + rest.lstrip("\n"), encoding="utf-8")
    return root


def oracle_label(text: str) -> str:
    for label, ws in WORDS.items():
        if any(w in text for w in ws):
            return label
    return "neutral"

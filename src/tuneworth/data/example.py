"""The unit of data: one input and its ideal output, with where it came from.

An Example is format-independent: chat JSONL, prompt/completion JSONL and CSV all load into it,
so rungs, metrics and records never care which file format the user had.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One task example.

    ``input`` is the final user message; ``history`` holds earlier turns (role/content dicts, no system);
    ``system`` is the system prompt found in the data, if any; ``output`` is the ideal answer
    (empty for production-sample queries, which have none).
    """

    id: str
    input: str
    output: str = ""
    system: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input": self.input,
            "output": self.output,
            "system": self.system,
            "history": [list(t) for t in self.history],
            "source": self.source,
        }


def fingerprint(examples: list[Example]) -> str:
    """A stable hash of the examples' content (order-sensitive), for run records."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(ex.input.encode())
        h.update(b"\x1f")
        h.update(ex.output.encode())
        h.update(b"\x1e")
    return h.hexdigest()[:16]

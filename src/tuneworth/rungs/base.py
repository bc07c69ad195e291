"""Contracts shared by the rungs: the run context, a Strategy (a prompt builder), the Rung protocol.

A rung proposes candidate strategies, scores them on validation through the ``score`` callback it
is handed (it never sees test items), and returns the chosen one; the climb then scores that
choice on the test items. So selection on validation only is enforced by construction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tuneworth.config.task import Task
from tuneworth.data.example import Example
from tuneworth.data.split import Split
from tuneworth.providers.base import ChatRequest


@dataclass
class RunContext:
    task: Task
    split: Split
    schema: dict[str, Any] | None
    count_tokens: Callable[[str], int]
    # Filled in as the climb goes: rung name -> chosen Strategy.
    chosen: dict[str, Strategy] = field(default_factory=dict)
    # Decodings to try as variants (decoding/plan.py); "free" only unless the climb plans more.
    decodings: list[str] = field(default_factory=lambda: ["free"])

    def __post_init__(self) -> None:
        # Demonstration budgets count the same texts for every item and every k: count each once.
        self.count_tokens = functools.lru_cache(maxsize=65536)(self.count_tokens)

    @property
    def labels(self) -> list[str] | None:
        return self.task.output.labels


@dataclass
class Strategy:
    """How one configuration turns an example into a request."""

    rung: str
    config: dict[str, Any]
    system: str
    max_tokens: int
    cot: bool = False
    demos: Callable[[Example], list[Example]] | None = None
    notes: list[str] = field(default_factory=list)
    decoding: str = "free"
    """``free``, or a constrained decoding (``choice``, ``schema``, ``structured``, ``json_object``)."""
    response_format: dict[str, Any] | None = None
    choices: tuple[str, ...] = ()
    # Per-item text appended to the system prompt (L3: retrieved document chunks with source tags).
    context: Callable[[Example], str] | None = None

    @property
    def id(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.config.items())

    def messages(self, ex: Example) -> tuple[dict[str, str], ...]:
        extra = self.context(ex) if self.context else ""
        msgs = [{"role": "system", "content": f"{self.system}\n\n{extra}" if extra else self.system}]
        for d in self.demos(ex) if self.demos else []:
            msgs.append({"role": "user", "content": d.input})
            msgs.append({"role": "assistant", "content": d.output})
        for role, content in ex.history:
            msgs.append({"role": role, "content": content})
        msgs.append({"role": "user", "content": ex.input})
        return tuple(msgs)

    def request(self, ex: Example, task: Task) -> ChatRequest:
        return ChatRequest(
            messages=self.messages(ex),
            max_tokens=self.max_tokens,
            temperature=task.model.temperature,
            seed=task.seed,
            stop_after_json=task.output.kind == "json" and not self.cot,
            response_format=self.response_format,
            choices=self.choices,
        )


# score(strategies, phase) -> mean validation score per strategy (same order).
ScoreFn = Callable[[Sequence[Strategy]], list[float]]


@dataclass
class Selection:
    chosen: Strategy
    candidates: list[dict[str, Any]]  # {"config":..., "score":..., "prompt_tokens_mean":...}
    notes: list[str] = field(default_factory=list)


class Rung(Protocol):
    name: str
    title: str

    def planned_candidates(self, ctx: RunContext) -> int:
        """How many candidate strategies ``select`` will score (for progress bars and estimates)."""
        ...

    def select(self, ctx: RunContext, score: ScoreFn) -> Selection:
        """Propose candidates, score them on validation via ``score``, return the best."""
        ...

"""Contracts shared by the rungs: the run context, a Strategy (a prompt builder), the Rung base.

A rung proposes candidate strategies, scores them on validation through the ``score`` callback it
is handed (it never sees test items), and returns the chosen one; the climb then scores that
choice on the test items. So selection on validation only is enforced by construction.

``Rung`` declares every seam the climb uses, with no-op defaults (``prepare_model``,
``record_sections``, ``decodings``, ``estimate``), and the metadata the rest of the code reads
instead of rung names (``fixes``, ``trains``, ``cost_class``, ``order``); it is stored on each rung's
record and summary row, so decide/ and report/ never need to know a rung by name.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tuneworth.config.task import Task
from tuneworth.data.example import Example
from tuneworth.data.split import Split
from tuneworth.providers.base import ChatRequest
from tuneworth.record.schema import CostClass, Fixes, ItemResult, RetrievalSection, RungMeta, TrainingSection

if TYPE_CHECKING:
    from tuneworth.providers.model import Model


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
    # The run directory being written (None outside a climb): where L4 keeps a remote job's id.
    run_dir: Path | None = None

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


class ProgressLike(Protocol):
    """What a rung may report training progress to (the climb's progress display)."""

    def start(self, title: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RungSections:
    """The top-level record sections a rung contributes (L3: retrieval, L4: training)."""

    retrieval: RetrievalSection | None = None
    training: TrainingSection | None = None


@dataclass
class Estimate:
    """A rung's prompt and answer size per request before a run (``tuneworth estimate``)."""

    prompt_tokens: float
    completion_tokens: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def prompt_tokens(strategy: Strategy, sample: Sequence[Example], count: Callable[[str], int]) -> float:
    """Mean prompt size of ``strategy`` over ``sample`` (4 tokens of chat framing per message)."""
    sizes = [sum(count(m["content"]) + 4 for m in strategy.messages(ex)) for ex in sample]
    return sum(sizes) / len(sizes) if sizes else 0.0


def answer_tokens(ctx: RunContext, sample: Sequence[Example], count: Callable[[str], int]) -> float:
    """Expected answer size: the gold answers' (+1 for the end), at most ``max_tokens``."""
    sizes = [count(ex.output) + 1 for ex in sample]
    return min(sum(sizes) / len(sizes) if sizes else 0.0, ctx.task.model.max_tokens)


class Rung(ABC):
    """One rung of the ladder. Subclasses set ``name``/``title`` and the metadata, and implement
    ``planned_candidates`` and ``select``; every other seam has a default that does nothing."""

    name: ClassVar[str]
    title: ClassVar[str]
    fixes: ClassVar[Fixes] = "behaviour"
    """What the rung's gains are evidence of; see ``fixes_in_run`` for a per-run answer."""
    trains: ClassVar[bool] = False
    cost_class: ClassVar[CostClass] = "prompt"
    order: ClassVar[int] = 0
    """Position on the ladder, cheapest first."""

    @abstractmethod
    def planned_candidates(self, ctx: RunContext) -> int:
        """How many candidate strategies ``select`` will score (for progress bars and estimates)."""

    @abstractmethod
    def select(self, ctx: RunContext, score: ScoreFn) -> Selection:
        """Propose candidates, score them on validation via ``score``, return the best."""

    def prepare_model(self, ctx: RunContext, model: Model, progress: ProgressLike | None = None) -> Model:
        """The model this rung is scored with (L4 trains one); by default the one it is given."""
        return model

    def decodings(self, ctx: RunContext) -> list[str]:
        """The decodings this rung's candidates use (L4 re-plans them for the tuned model)."""
        return ctx.decodings

    def record_sections(
        self, ctx: RunContext, selection: Selection, results: Sequence[ItemResult]
    ) -> RungSections:
        """Top-level record sections of this rung (none by default); ``results``: its test items."""
        return RungSections()

    def estimate(
        self, ctx: RunContext, sample: list[Example], count: Callable[[str], int]
    ) -> Estimate | None:
        """Mean prompt/answer tokens per request on ``sample`` (``count`` sizes a text), or None
        when the prompts exist only at run time (an estimate then uses L1's)."""
        return None

    def fixes_in_run(self) -> Fixes:
        """What this run of the rung fixes (L3: knowledge only when it retrieved documents)."""
        return self.fixes

    def meta(self) -> RungMeta:
        """The metadata stored on this rung's record and summary row."""
        return RungMeta(
            title=self.title, fixes=self.fixes_in_run(), trains=self.trains, cost_class=self.cost_class,
            order=self.order,
        )

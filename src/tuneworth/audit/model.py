"""The typed audit report: one ``CheckResult`` per checklist item, each with evidence.

Plain dataclasses (no pydantic) so that reading a report costs nothing; ``to_dict`` gives the JSON
written by ``tuneworth audit --json`` and into run records, ``from_dict`` reads it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip"]
Severity = Literal["error", "warning", "info"]
STATUS_ORDER: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


@dataclass(frozen=True)
class Problem:
    """One format problem found by the tolerant reader, with its line (None: the whole file)."""

    kind: str
    message: str
    line: int | None = None
    severity: Severity = "error"
    file: str = ""


@dataclass
class Evidence:
    """Why a check said what it said: the lines involved, what is wrong, and short examples."""

    message: str
    lines: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    file: str = ""

    def where(self) -> str:
        if not self.lines:
            return self.file
        shown = ", ".join(str(n) for n in self.lines[:8]) + (" ..." if len(self.lines) > 8 else "")
        return f"{self.file}:{shown}" if self.file else f"line {shown}"


@dataclass
class CheckResult:
    """The outcome of one checklist item."""

    name: str
    title: str
    status: Status
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditReport:
    """Every check's result, plus what was audited."""

    data: str
    kind: str
    n_examples: int
    checks: list[CheckResult]
    inputs: dict[str, Any] = field(default_factory=dict)
    readable: bool = True
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        w = worst(*(c.status for c in self.checks))
        return "pass" if w == "skip" else w

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUS_ORDER}
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_dict(self, *, max_lines: int | None = None) -> dict[str, Any]:
        """JSON form. ``max_lines`` caps each evidence's line list (``more_lines`` counts the rest)."""
        checks = [c.to_dict() for c in self.checks]
        if max_lines is not None:
            for c in checks:
                for ev in c["evidence"]:
                    if len(ev["lines"]) > max_lines:
                        ev["more_lines"] = len(ev["lines"]) - max_lines
                        ev["lines"] = ev["lines"][:max_lines]
        return {
            "data": self.data,
            "kind": self.kind,
            "n_examples": self.n_examples,
            "status": self.status,
            "readable": self.readable,
            "counts": self.counts(),
            "inputs": self.inputs,
            "seconds": self.seconds,
            "checks": checks,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditReport:
        checks = [
            CheckResult(
                name=c["name"],
                title=c["title"],
                status=c["status"],
                reason=c["reason"],
                evidence=[Evidence(**{k: v for k, v in e.items() if k != "more_lines"}) for e in c.get("evidence", [])],
                metrics=c.get("metrics", {}),
                seconds=c.get("seconds", 0.0),
            )
            for c in d.get("checks", [])
        ]
        return cls(
            data=d["data"],
            kind=d["kind"],
            n_examples=d["n_examples"],
            checks=checks,
            inputs=d.get("inputs", {}),
            readable=d.get("readable", True),
            seconds=d.get("seconds", 0.0),
        )


def worst(*statuses: Status) -> Status:
    return max(statuses, key=STATUS_ORDER.__getitem__, default="pass")

"""The decision framework: five questions, each answered yes / no / unknown *for fine-tuning*, and
the recommendation that follows from them.

The same rules serve a finished run (answers built from measurements, ``decide.evidence``) and a
team without data yet (answers from the interactive questionnaire, ``decide.questionnaire``), so
the two can never disagree about what an answer implies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tuneworth.record.derived import Decision, Question

Status = Literal["yes", "no", "unknown"]

QUESTIONS = {
    "prompting": "Have we tried prompting (instructions, then few-shot demonstrations)?",
    "data": "Is our training data good and abundant enough?",
    "volume": "Will we have enough requests for fine-tuning to pay back?",
    "significance": "Is fine-tuning's gain over the best cheaper rung significant?",
    "knowledge": "Are the failures about behaviour (fine-tuning helps) rather than missing knowledge (retrieval helps)?",
}


@dataclass
class Answer:
    """One question's answer. ``status`` says whether it favours fine-tuning."""

    key: str
    status: Status
    answer: str
    evidence: list[str] = field(default_factory=list)

    @property
    def question(self) -> str:
        return QUESTIONS[self.key]


@dataclass
class Evidence:
    answers: dict[str, Answer]
    stop_rung: str | None = None  # the rung the paired tests support among those run
    stop_title: str | None = None
    trained_rung: str | None = None  # the rung that fine-tunes, when it ran
    l4_ran: bool = False
    break_even: str | None = None  # formatted volume, for the verdict text
    never_pays_back: bool = False  # L4 costs more per request: no volume makes it pay back
    changes: list[str] = field(default_factory=list)  # what would change the answer


def decide(e: Evidence) -> Decision:
    """Apply the framework to the five answers."""
    a = e.answers
    stop = e.stop_rung
    where = f"Stop at {e.stop_title or stop}" if stop else "Stay with prompting"
    reasons = [f"{ans.question} {ans.answer}" for ans in a.values() if ans.status != "unknown"]
    change = list(e.changes)
    tuned = e.trained_rung or "the fine-tuned model"

    def done(verdict: str, fine_tune: Literal["yes", "no", "not yet", "try"], at: str | None) -> Decision:
        return Decision(
            verdict=verdict,
            fine_tune=fine_tune,
            stop_at=at,
            reasons=reasons,
            what_would_change=change,
            questions=[
                Question(key=k, question=v.question, status=v.status, answer=v.answer, evidence=v.evidence)
                for k, v in a.items()
            ],
        )

    if a["data"].status == "no":
        return done(
            f"{where}: do not fine-tune; the training data is not good or large enough yet.", "no", stop
        )
    if a["knowledge"].status == "no":
        return done(
            f"{where}: the failures are missing knowledge; use retrieval (RAG), not fine-tuning.", "no", stop
        )
    if e.l4_ran:
        sig, vol = a["significance"].status, a["volume"].status
        if sig == "yes" and vol == "yes":
            return done(f"Fine-tune: {tuned} beats the cheaper rungs significantly and pays back.", "yes", e.trained_rung)
        if sig == "yes" and vol == "no":
            why = (
                "it costs more per request, so it never pays back"
                if e.never_pays_back
                else "it does not pay back at your volume"
            )
            return done(f"{where}: {tuned} is better, but {why}.", "no", stop)
        if sig == "yes":
            return done(
                f"Fine-tune if you expect at least {e.break_even or '?'} requests a month: {tuned} is "
                "significantly better; set economics.requests_per_month to decide.",
                "not yet",
                stop,
            )
        if sig == "no":
            return done(f"{where}: fine-tuning buys no meaningful gain.", "no", stop)
        return done(
            f"{where} for now: too few test items to tell whether fine-tuning helps.", "not yet", stop
        )
    if a["prompting"].status == "no":
        return done("Try prompting first: instructions (L1), then few-shot demonstrations (L2).", "no", stop)
    if a["volume"].status == "no":
        if e.never_pays_back:
            return done(f"{where}: fine-tuning would cost more per request, so it cannot pay back.", "no", stop)
        return done(f"{where}: at your volume fine-tuning cannot pay back.", "no", stop)
    return done(
        f"{where}, and fine-tuning is worth a try: run the fine-tuning rung (L4) to measure its gain.",
        "try",
        stop,
    )

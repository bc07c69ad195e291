"""The LLM-as-judge metric: prompts, parsing, position swapping, and one batched call per set of items.

Pointwise: the judge reads the rubric (in the system prompt, so every request shares it and the
local provider computes its KV once), the message, the reference and the answer, and replies
``Score: N`` then a reason; the item's value is ``(N - 1) / 4``. Pairwise: the answer and the
reference are shown as A and B without saying which is which; with ``swap`` both orders are judged
and the answer's points (win 1, tie 0.5, loss 0) are averaged, so a judge that always prefers the
first position scores identical answers exactly even. Every prompt and raw judgement is kept;
ties, position flips and unparseable judgements are counted, never dropped.

A local judge (``local/...``) is decoded by label scoring (decoding/choice.py) over the verdict
labels, "1".."5" or "A"/"B"/"tie": the judge answers with the most likely label, so a small model
always yields a parseable verdict (free text from a 135M model rarely follows ``Score: N``). The
labels' log-probabilities are kept in the raw judgement. API judges keep the text path and its
parser (``decoding="text"``), with the reason they give.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuneworth.providers.base import ChatRequest, Completion
from tuneworth.providers.model import Model

POINTWISE_SYSTEM = (
    "You are a strict grader of answers to customer messages. Compare the ANSWER with the REFERENCE "
    "answer and grade it with the rubric below.\n\nRUBRIC:\n{rubric}\n\n"
    "Reply in exactly this form:\nScore: <a number from 1 to 5>\nReason: <one short sentence>"
)
POINTWISE_USER = "MESSAGE:\n{input}\n\nREFERENCE:\n{reference}\n\nANSWER:\n{output}"
PAIRWISE_SYSTEM = (
    "You are a strict judge of answers to customer messages. Decide which response, A or B, answers "
    "the message better according to the rubric below.\n\nRUBRIC:\n{rubric}\n\n"
    "Reply in exactly this form:\nWinner: <A, B or tie>\nReason: <one short sentence>"
)
PAIRWISE_USER = "MESSAGE:\n{input}\n\nRESPONSE A:\n{a}\n\nRESPONSE B:\n{b}"
# Label scoring: the answer is the label alone, so the prompt asks for exactly that.
POINTWISE_REPLY_TEXT = "Reply in exactly this form:\nScore: <a number from 1 to 5>\nReason: <one short sentence>"
POINTWISE_REPLY_CHOICE = "Reply with the score only: a single number from 1 to 5."
PAIRWISE_REPLY_TEXT = "Reply in exactly this form:\nWinner: <A, B or tie>\nReason: <one short sentence>"
PAIRWISE_REPLY_CHOICE = "Reply with the winner only: A, B or tie."
POINTWISE_LABELS = ("1", "2", "3", "4", "5")
PAIRWISE_LABELS = ("A", "B", "tie")

_SCORE = re.compile(r"score\s*(?:is|of|=|:|-)?\s*\**\s*([1-5])(?![0-9])", re.I)
_FRACTION = re.compile(r"(?<![0-9])([1-5])\s*/\s*5(?![0-9])")
_LEADING = re.compile(r"^\W*([1-5])(?![0-9.,])")
_WINNER_TIE = re.compile(r"winner\s*(?:is|=|:|-)?\s*\**\s*(?:it'?s\s+)?(?:a\s+)?(tie|draw|neither|equal|both)\b", re.I)
_WINNER = re.compile(r"winner\s*(?:is|=|:|-)?\s*\**\s*(?:response\s+)?\**([AaBb])\b", re.I)
_LEADING_AB = re.compile(r"^\W*(?:[Rr]esponse\s+)?([AB])\b")
_LEADING_TIE = re.compile(r"^\W*(tie|draw)\b", re.I)


def parse_pointwise(text: str) -> int | None:
    """The 1-5 score in a judgement, or None. ``Score: N`` wins over ``N/5`` over a leading digit."""
    for pattern in (_SCORE, _FRACTION, _LEADING):
        m = pattern.search(text)
        if m:
            return int(m.group(1))
    return None


def parse_pairwise(text: str) -> str | None:
    """``"A"``, ``"B"`` or ``"tie"`` from a judgement, or None."""
    if _WINNER_TIE.search(text) or _LEADING_TIE.search(text):
        return "tie"
    m = _WINNER.search(text) or _LEADING_AB.search(text)
    return m.group(1).upper() if m else None


@dataclass
class Judgement:
    """The judge's verdict on one answer: its value in [0, 1] (None when no judgement parsed)."""

    value: float | None
    mode: str
    prompts: list[str]
    raw: list[str]
    verdicts: list[Any]
    ties: int = 0
    unparseable: int = 0
    errors: list[str] = field(default_factory=list)
    position_flip: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    label_logprobs: list[dict[str, float] | None] | None = None
    """Label scoring: each verdict label's mean log-probability, per order (the raw judgement)."""

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.label_logprobs is None else {"label_logprobs": self.label_logprobs}
        return {
            "mode": self.mode,
            "value": self.value,
            "prompts": self.prompts,
            "raw": self.raw,
            "verdicts": self.verdicts,
            "ties": self.ties,
            "unparseable": self.unparseable,
            "errors": self.errors,
            "position_flip": self.position_flip,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms": round(self.latency_ms, 2),
            **extra,
        }


class Judge:
    def __init__(
        self,
        model: Model,
        rubric: str,
        *,
        mode: str = "pointwise",
        swap: bool = True,
        decoding: str | None = None,
        max_tokens: int = 48,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if mode not in ("pointwise", "pairwise"):
            raise ValueError(f"unknown judge mode {mode!r}")
        self.model = model
        self.rubric = rubric
        self.mode = mode
        self.swap = swap
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        if decoding is None:
            decoding = "choice" if constrained_by_default(model) else "text"
        if decoding not in ("text", "choice"):
            raise ValueError(f"unknown judge decoding {decoding!r}")
        self.decoding = decoding
        template = POINTWISE_SYSTEM if mode == "pointwise" else PAIRWISE_SYSTEM
        system = template.format(rubric=rubric)
        if decoding == "choice":
            text_reply, choice_reply = (
                (POINTWISE_REPLY_TEXT, POINTWISE_REPLY_CHOICE)
                if mode == "pointwise"
                else (PAIRWISE_REPLY_TEXT, PAIRWISE_REPLY_CHOICE)
            )
            system = system.replace(text_reply, choice_reply)
        self.system = system
        self.labels: tuple[str, ...] = (
            () if decoding == "text" else POINTWISE_LABELS if mode == "pointwise" else PAIRWISE_LABELS
        )

    @property
    def orders(self) -> int:
        return 2 if self.mode == "pairwise" and self.swap else 1

    def describe(self) -> dict[str, Any]:
        """What goes into the record's ``judge`` section: enough to re-create every prompt."""
        return {
            "model": self.model.model_id,
            "mode": self.mode,
            "swap": self.swap if self.mode == "pairwise" else None,
            "decoding": self.decoding,
            "labels": list(self.labels) or None,
            "rubric": self.rubric,
            "system_prompt": self.system,
            "user_template": POINTWISE_USER if self.mode == "pointwise" else PAIRWISE_USER,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def _user_prompts(self, message: str, output: str, reference: str) -> list[str]:
        if self.mode == "pointwise":
            return [POINTWISE_USER.format(input=message, reference=reference, output=output)]
        prompts = [PAIRWISE_USER.format(input=message, a=output, b=reference)]
        if self.swap:
            prompts.append(PAIRWISE_USER.format(input=message, a=reference, b=output))
        return prompts

    def _request(self, user: str) -> ChatRequest:
        return ChatRequest(
            messages=({"role": "system", "content": self.system}, {"role": "user", "content": user}),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=self.seed,
            choices=self.labels,
        )

    def judge_many(self, items: Sequence[tuple[str, str, str]]) -> list[Judgement]:
        """Judge ``(message, output, reference)`` triples: every prompt of every item in one batched call."""
        prompts = [self._user_prompts(*item) for item in items]
        flat = [p for ps in prompts for p in ps]
        completions = self.model.generate([self._request(p) for p in flat])
        out, k = [], 0
        for ps in prompts:
            out.append(self._verdict(ps, completions[k : k + len(ps)]))
            k += len(ps)
        return out

    def _verdict(self, prompts: list[str], comps: Sequence[Completion]) -> Judgement:
        j = Judgement(None, self.mode, prompts, [c.text for c in comps], [])
        if self.decoding == "choice":
            j.label_logprobs = [c.meta.get("label_logprobs") for c in comps]
        j.prompt_tokens = sum(c.prompt_tokens for c in comps)
        j.completion_tokens = sum(c.completion_tokens for c in comps)
        j.latency_ms = max((c.latency_ms for c in comps), default=0.0)
        points: list[float] = []
        for order, c in enumerate(comps):
            if c.error is not None:
                j.errors.append(c.error)
                j.verdicts.append(None)
                continue
            if self.mode == "pointwise":
                score = parse_pointwise(c.text)
                j.verdicts.append(score)
                if score is None:
                    j.unparseable += 1
                else:
                    points.append((score - 1) / 4)
                continue
            winner = parse_pairwise(c.text)
            j.verdicts.append(winner)
            if winner is None:
                j.unparseable += 1
            elif winner == "tie":
                j.ties += 1
                points.append(0.5)
            else:
                answer_is = "A" if order == 0 else "B"
                points.append(1.0 if winner == answer_is else 0.0)
        if self.mode == "pairwise" and len(j.verdicts) == 2:
            a, b = j.verdicts
            # The same letter in both orders means the judge followed the position, not the content.
            j.position_flip = a is not None and a == b and a != "tie"
        j.value = sum(points) / len(points) if points else None
        return j


def constrained_by_default(model: Model) -> bool:
    """Local judges are decoded by label scoring; API (and fake) judges answer in text."""
    return model.model_id.startswith("local/") and "choice" in model.provider.decodings


def judge_counts(judgements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals over items' ``details["judge"]``: ties, unparseable judgements, position flips, errors."""
    if not judgements:
        return {}
    return {
        "judged_items": len(judgements),
        "judge_unscored_items": sum(1 for j in judgements if j.get("value") is None),
        "judge_unparseable": sum(int(j.get("unparseable", 0)) for j in judgements),
        "judge_ties": sum(int(j.get("ties", 0)) for j in judgements),
        "judge_position_flips": sum(1 for j in judgements if j.get("position_flip")),
        "judge_errors": sum(len(j.get("errors") or []) for j in judgements),
        "judge_prompt_tokens": sum(int(j.get("prompt_tokens", 0)) for j in judgements),
        "judge_completion_tokens": sum(int(j.get("completion_tokens", 0)) for j in judgements),
    }

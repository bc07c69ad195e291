"""Constrained decoding on OpenAI-compatible APIs: Structured Outputs with fallbacks, label scoring.

JSON tasks ask for ``response_format = {"type": "json_schema", "strict": true}``; an endpoint that
refuses it (HTTP 400/422 about the response format, e.g. a schema outside the strict subset, or a
server without the feature) is asked again with ``{"type": "json_object"}``, then with no response
format at all. Each step down is remembered for the rest of the run and recorded on every item
(``decoding`` = ``structured`` | ``json_object`` | ``free``), never fatal.

Label tasks (``choices``) ask for ``logprobs`` with the top alternatives of each token: the label is
the one the model generated when it generated one, else the label whose first token is the likeliest
among the alternatives at the first position. Without logprobs, the answer is the free text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TOP_LOGPROBS = 20
FALLBACK = {"json_schema": {"type": "json_object"}, "json_object": None}
DECODING_OF = {"json_schema": "structured", "json_object": "json_object", None: "free"}


def refuses_format(status: int, message: str) -> bool:
    """Whether an error response reads as the endpoint refusing the requested response format."""
    text = message.lower()
    return status in (400, 422) and any(
        w in text for w in ("response_format", "json_schema", "json_object", "structured", "schema", "strict")
    )


def refuses_logprobs(status: int, message: str) -> bool:
    return status in (400, 422) and "logprob" in message.lower()


def _norm(s: str) -> str:
    return " ".join(s.split()).lower()


def pick_label(text: str, logprobs: Any, labels: Sequence[str]) -> tuple[str | None, dict[str, float]]:
    """The chosen label and each label's first-token log-probability (absent where none matched).

    ``logprobs`` is the SDK's ``choice.logprobs`` (``.content``: tokens with ``top_logprobs``) or None.
    """
    generated = _norm(text)
    exact = next((label for label in labels if _norm(label) == generated), None)
    scores: dict[str, float] = {}
    content = getattr(logprobs, "content", None) or []
    if content:
        first = content[0]
        alternatives = [(a.token, a.logprob) for a in (getattr(first, "top_logprobs", None) or [])]
        alternatives.append((first.token, first.logprob))
        for label in labels:
            target = _norm(label)
            best = -math.inf
            for token, lp in alternatives:
                piece = token.strip().lower()
                # The longest alternative that starts this label (a label's first token).
                if piece and target.startswith(piece):
                    best = max(best, lp)
            if best > -math.inf:
                scores[label] = round(best, 4)
    if exact is not None:
        return exact, scores
    if scores:
        return max(scores, key=lambda k: scores[k]), scores
    return None, scores

"""Similarity metrics for free-text answers, where the ideal answer is one of many good ones.

Every text item records all of them (``details``): normalized exact match, token F1 (SQuAD-style bag
of words), ROUGE-L (F-measure of the longest common word subsequence), chrF (sacrebleu's sentence
chrF, the maintained reference implementation) and the cosine of the two answers' embeddings (the
bundled all-MiniLM-L6-v2). Each is in [0, 1]; the task's ``metric`` picks the primary one and
``scoring.pass_threshold`` turns it into pass/fail where a proportion is needed.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import TYPE_CHECKING, Any

from tuneworth.data.text import normalize
from tuneworth.errors import MissingDependencyError

if TYPE_CHECKING:
    from tuneworth.embeddings.load import Embedder
    from tuneworth.evaluate.metrics import Score

LEXICAL = ("exact", "normalized", "token_f1", "rouge_l", "chrf")
TEXT_METRICS = (*LEXICAL, "embedding")

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def answer_tokens(text: str) -> list[str]:
    """SQuAD normalisation: lower case, no punctuation, no articles, split on whitespace."""
    text = text.lower().translate(_PUNCT)
    return _ARTICLES.sub(" ", text).split()


def token_f1(pred: str, gold: str) -> float:
    """Harmonic mean of token precision and recall (multiset overlap); two empty answers agree."""
    p, g = answer_tokens(pred), answer_tokens(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (O(len(a) * len(b)) time, O(len(b)) memory)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(pred: str, gold: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens (as rouge-score computes it, without stemming)."""
    p = re.findall(r"[a-z0-9]+", pred.lower())
    g = re.findall(r"[a-z0-9]+", gold.lower())
    if not p or not g:
        return float(p == g)
    lcs = lcs_length(p, g)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(g)
    return 2 * precision * recall / (precision + recall)


def chrf(pred: str, gold: str) -> float:
    """sacrebleu's sentence-level chrF (character 6-grams, beta 2), scaled to [0, 1]."""
    try:
        from sacrebleu.metrics import CHRF
    except ImportError:
        raise MissingDependencyError("sacrebleu", "local") from None
    return float(_chrf_metric(CHRF).sentence_score(pred, [gold]).score) / 100.0


_CHRF: Any = None


def _chrf_metric(cls: Any) -> Any:
    global _CHRF
    if _CHRF is None:
        _CHRF = cls()
    return _CHRF


def lexical_scores(pred: str, gold: str) -> dict[str, float]:
    """Every lexical metric of ``pred`` against ``gold``."""
    return {
        "exact": float(pred.strip() == gold.strip()),
        "normalized": float(normalize(pred) == normalize(gold)),
        "token_f1": token_f1(pred, gold),
        "rouge_l": rouge_l(pred, gold),
        "chrf": chrf(pred, gold),
    }


class EmbeddingSimilarity:
    """Cosine of two texts' embeddings, clipped to [0, 1]; reference embeddings are memoised."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder
        self._memo: dict[str, Any] = {}

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from tuneworth.embeddings.load import load_embedder

            self._embedder = load_embedder()
        return self._embedder

    def _vectors(self, texts: list[str]) -> list[Any]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo), strict=True):
                self._memo[t] = v
        return [self._memo[t] for t in texts]

    def __call__(self, pred: str, gold: str) -> float:
        if not pred.strip() or not gold.strip():
            return float(pred.strip() == gold.strip())
        a, b = self._vectors([pred, gold])
        return max(0.0, min(1.0, float(a @ b)))

    def prime(self, texts: list[str]) -> None:
        """Embed many texts in one batch (references, a batch of outputs) ahead of scoring."""
        self._vectors(texts)
        if len(self._memo) > 20000:  # bound memory on long runs; references are re-embedded on demand
            self._memo.clear()


def text_scores(pred: str, gold: str, wanted: tuple[str, ...], cosine: EmbeddingSimilarity | None) -> dict[str, float]:
    """The metrics in ``wanted`` (always including the lexical ones that are cheap)."""
    out = {k: round(v, 6) for k, v in lexical_scores(pred, gold).items() if k in wanted}
    if "embedding" in wanted and cosine is not None:
        out["embedding"] = round(cosine(pred, gold), 6)
    return out


def score_free_text(
    answer: str,
    gold: str,
    metric: str,
    wanted: tuple[str, ...],
    cosine: EmbeddingSimilarity | None,
    threshold: float | None,
    valid: bool = True,
) -> Score:
    """Score a free-text answer: every wanted metric in ``details``, ``metric`` as the value.

    For ``metric = "judge"`` the value is filled in later by the judge (see ``evaluate/runner.py``).
    """
    from tuneworth.evaluate.metrics import Score

    want = tuple(dict.fromkeys((*wanted, metric) if metric in TEXT_METRICS else wanted))
    details: dict[str, Any] = dict(text_scores(answer, gold, want, cosine))
    for key in ("exact", "normalized"):  # kept as booleans, as the pass/fail metrics always were
        if key in details:
            details[key] = bool(details[key])
    value = float(details.get(metric, 0.0))
    if threshold is not None and metric != "judge":
        details["pass"] = value >= threshold
    return Score(value, valid, details)


def text_breakdown(details: list[dict[str, Any]]) -> dict[str, float]:
    """Means of the continuous text metrics over scored items (for summary rows)."""
    out: dict[str, float] = {}
    for key in ("token_f1", "rouge_l", "chrf", "embedding"):
        vals = [float(d[key]) for d in details if isinstance(d.get(key), int | float)]
        if vals:
            out[f"{key}_mean"] = round(sum(vals) / len(vals), 4)
    return out

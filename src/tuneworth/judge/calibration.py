"""Judge calibration: does the judge agree with people on a small human-labelled file?

The file is JSONL, one human judgement per line: ``{"input": ..., "output": ..., "human": 1-5}``
(``input`` must be the input of a test item, whose ideal answer is the reference the judge sees).
A pairwise judge may instead be calibrated on human preferences: ``"human": "better"``, ``"tie"``
or ``"worse"`` (the output against the reference). The file is read and checked (every line, every
item in the test set) before any model is called. The judge then scores each line; agreement is
Spearman's rho with a Fisher-z interval, and Cohen's kappa with a bootstrap interval: quadratic-
weighted on the 1-5 scale (pointwise), unweighted over better/tie/worse (pairwise preferences). Weak
agreement is a warning in the verdict: a judge that disagrees with people makes the ladder's
comparison meaningless.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneworth.data.example import Example
from tuneworth.errors import DatasetError
from tuneworth.judge.judge import Judge
from tuneworth.stats.agreement import cohen_kappa, kappa_ci, spearman, spearman_ci

MIN_ITEMS = 10
PREFERENCES = ("worse", "tie", "better")
"""Human preferences for pairwise calibration, in order (coded -1, 0, 1)."""


@dataclass(frozen=True)
class HumanLabel:
    line: int
    input: str
    output: str
    human: int | str
    """A 1-5 score, or a preference of the output over the reference ("better", "tie", "worse")."""
    reference: str


def load_calibration(path: Path, test: Sequence[Example], *, mode: str = "pointwise") -> list[HumanLabel]:
    """Read and check the calibration file against the test split (file:line in every error).

    ``mode``: the judge's; human preferences ("better"/"tie"/"worse") calibrate pairwise judges only.
    """
    by_input = {ex.input.strip(): ex for ex in test}
    if not path.is_file():
        raise DatasetError("calibration file not found", path=str(path), hint="judge.calibration is relative to the task file")
    labels: list[HumanLabel] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"not valid JSON ({e.msg})", path=str(path), line=lineno) from None
        if not isinstance(row, dict) or not {"input", "output", "human"} <= set(row):
            raise DatasetError(
                'each line needs "input", "output" and "human"',
                path=str(path),
                line=lineno,
                hint='e.g. {"input": "<a test message>", "output": "<an answer>", "human": 4}',
            )
        human = row["human"]
        if isinstance(human, str) and mode == "pairwise":
            if human.strip().lower() not in PREFERENCES:
                raise DatasetError(
                    f"human preference {human!r} is not one of better, tie, worse",
                    path=str(path),
                    line=lineno,
                    hint='"better": the output beats the reference; "worse": the reference wins',
                )
            human = human.strip().lower()
        elif isinstance(human, bool) or not isinstance(human, int) or not 1 <= human <= 5:
            raise DatasetError(
                f"human score {human!r} is not an integer from 1 to 5",
                path=str(path),
                line=lineno,
                hint='pairwise judges also take preferences: "better", "tie" or "worse"'
                if mode == "pairwise"
                else None,
            )
        if labels and isinstance(labels[0].human, str) != isinstance(human, str):
            raise DatasetError(
                "the calibration file mixes 1-5 scores and preferences",
                path=str(path),
                line=lineno,
                hint="use 1-5 scores on every line, or better/tie/worse on every line",
            )
        if not isinstance(row["input"], str) or not isinstance(row["output"], str):
            raise DatasetError('"input" and "output" must be strings', path=str(path), line=lineno)
        ex = by_input.get(row["input"].strip())
        if ex is None:
            raise DatasetError(
                f"item {row['input'][:60]!r} is not in the test set",
                path=str(path),
                line=lineno,
                hint="calibrate on test items: copy the input exactly from the test data "
                "(a fixed data.test file keeps the test set stable across seeds)",
            )
        labels.append(HumanLabel(lineno, row["input"], row["output"], human, ex.output))
    if not labels:
        raise DatasetError("the calibration file has no judgements", path=str(path))
    return labels


def calibrate(judge: Judge, labels: Sequence[HumanLabel], *, min_agreement: float, seed: int) -> dict[str, Any]:
    """Judge every human-labelled answer and report agreement with an interval (and any warning)."""
    judgements = judge.judge_many([(h.input, h.output, h.reference) for h in labels])
    pairs = [(h, j) for h, j in zip(labels, judgements, strict=True) if j.value is not None]
    preferences = bool(labels) and isinstance(labels[0].human, str)
    human = [float(PREFERENCES.index(str(h.human)) - 1 if preferences else h.human) for h, _ in pairs]
    machine = [float(j.value) for _, j in pairs if j.value is not None]
    n = len(pairs)
    rho = spearman(human, machine) if n >= 2 else math.nan
    lo, hi = spearman_ci(rho, n)
    out: dict[str, Any] = {
        "n": len(labels),
        "scored": n,
        "unparseable": sum(1 for j in judgements if j.value is None),
        "spearman": None if math.isnan(rho) else round(rho, 4),
        "spearman_ci": [round(lo, 4), round(hi, 4)],
        "min_agreement": min_agreement,
        "human_scale": "preference" if preferences else "1-5",
        "items": [
            {"line": h.line, "human": h.human, "judge": j.to_dict()} for h, j in zip(labels, judgements, strict=True)
        ],
    }
    if preferences and n:
        # The judge's preference: the answer's points (both orders averaged) above, at or below 1/2.
        a = [PREFERENCES.index(str(h.human)) - 1 for h, _ in pairs]
        b = [preference(j.value) for _, j in pairs if j.value is not None]
        kappa = cohen_kappa(a, b, [-1, 0, 1])
        klo, khi = kappa_ci(a, b, [-1, 0, 1], seed=seed)
        out["kappa"] = None if math.isnan(kappa) else round(kappa, 4)
        out["kappa_ci"] = [round(klo, 4), round(khi, 4)]
    elif judge.mode == "pointwise" and n:
        a = [int(h.human) for h, _ in pairs]
        b = [round(j.value * 4) + 1 for _, j in pairs if j.value is not None]
        kappa = cohen_kappa(a, b, [1, 2, 3, 4, 5], weights="quadratic")
        klo, khi = kappa_ci(a, b, [1, 2, 3, 4, 5], weights="quadratic", seed=seed)
        out["kappa_quadratic"] = None if math.isnan(kappa) else round(kappa, 4)
        out["kappa_ci"] = [round(klo, 4), round(khi, 4)]
    out["warning"] = agreement_warning(out, min_agreement)
    return out


def preference(value: float) -> int:
    """A pairwise judgement's preference: 1 (the answer is better), 0 (tie) or -1 (worse)."""
    return 1 if value > 0.5 else -1 if value < 0.5 else 0


def agreement_warning(result: dict[str, Any], min_agreement: float) -> str | None:
    """A sentence for the verdict when the judge's agreement with people is weak or unknown.

    The statistic is Spearman's rho for 1-5 scores, Cohen's kappa for better/tie/worse preferences.
    """
    n = result["scored"]
    if result.get("human_scale") == "preference":
        name, value, (lo, hi) = "Cohen's kappa", result.get("kappa"), result.get("kappa_ci") or (-1.0, 1.0)
    else:
        name, value, (lo, hi) = "Spearman", result["spearman"], result["spearman_ci"]
    if value is None:
        why = (
            f"only {n} of {result['n']} judgements could be parsed"
            if n < 2
            else "the judge (or the people) gave every item the same score"
        )
        return f"judge calibration: agreement with people is undefined ({why}); the judge's scores are unvalidated"
    if value < min_agreement:
        return (
            f"judge calibration: weak agreement with people ({name} {value:.2f}, 95% CI "
            f"{lo:.2f} to {hi:.2f}, n={n}; below {min_agreement}): "
            "the ladder's comparison on this judge is not trustworthy"
        )
    if n < MIN_ITEMS or lo < 0:
        return (
            f"judge calibration: {name} {value:.2f} on only {n} judgements (95% CI {lo:.2f} "
            f"to {hi:.2f}); label more items to know whether the judge agrees with people"
        )
    return None

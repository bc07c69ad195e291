"""Judge calibration: does the judge agree with people on a small human-labelled file?

The file is JSONL, one human judgement per line: ``{"input": ..., "output": ..., "human": 1-5}``
(``input`` must be the input of a test item, whose ideal answer is the reference the judge sees).
It is read and checked (every line, every item in the test set) before any model is called. The
judge then scores each line; agreement is Spearman's rho (pointwise and pairwise) and Cohen's kappa,
quadratic-weighted, on the 1-5 scale (pointwise), each with a 95% interval. Weak agreement is a
warning in the verdict: a judge that disagrees with people makes the ladder's comparison meaningless.
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
from tuneworth.judge.agreement import cohen_kappa, kappa_ci, spearman, spearman_ci
from tuneworth.judge.judge import Judge

MIN_ITEMS = 10


@dataclass(frozen=True)
class HumanLabel:
    line: int
    input: str
    output: str
    human: int
    reference: str


def load_calibration(path: Path, test: Sequence[Example]) -> list[HumanLabel]:
    """Read and check the calibration file against the test split (file:line in every error)."""
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
        if isinstance(human, bool) or not isinstance(human, int) or not 1 <= human <= 5:
            raise DatasetError(f"human score {human!r} is not an integer from 1 to 5", path=str(path), line=lineno)
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
    human = [float(h.human) for h, _ in pairs]
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
        "items": [
            {"line": h.line, "human": h.human, "judge": j.to_dict()} for h, j in zip(labels, judgements, strict=True)
        ],
    }
    if judge.mode == "pointwise" and n:
        a = [h.human for h, _ in pairs]
        b = [round(j.value * 4) + 1 for _, j in pairs if j.value is not None]
        kappa = cohen_kappa(a, b, [1, 2, 3, 4, 5], weights="quadratic")
        klo, khi = kappa_ci(a, b, [1, 2, 3, 4, 5], weights="quadratic", seed=seed)
        out["kappa_quadratic"] = None if math.isnan(kappa) else round(kappa, 4)
        out["kappa_ci"] = [round(klo, 4), round(khi, 4)]
    out["warning"] = agreement_warning(out, min_agreement)
    return out


def agreement_warning(result: dict[str, Any], min_agreement: float) -> str | None:
    """A sentence for the verdict when the judge's agreement with people is weak or unknown."""
    rho, n = result["spearman"], result["scored"]
    if rho is None:
        why = (
            f"only {n} of {result['n']} judgements could be parsed"
            if n < 2
            else "the judge (or the people) gave every item the same score"
        )
        return f"judge calibration: agreement with people is undefined ({why}); the judge's scores are unvalidated"
    if rho < min_agreement:
        return (
            f"judge calibration: weak agreement with people (Spearman {rho:.2f}, 95% CI "
            f"{result['spearman_ci'][0]:.2f} to {result['spearman_ci'][1]:.2f}, n={n}; below {min_agreement}): "
            "the ladder's comparison on this judge is not trustworthy"
        )
    if n < MIN_ITEMS or result["spearman_ci"][0] < 0:
        return (
            f"judge calibration: Spearman {rho:.2f} on only {n} judgements (95% CI {result['spearman_ci'][0]:.2f} "
            f"to {result['spearman_ci'][1]:.2f}); label more items to know whether the judge agrees with people"
        )
    return None

"""9. Label-noise suspects: examples whose label disagrees with the consensus of their nearest neighbours.

Confident-learning style (Northcutt et al.): out-of-sample class probabilities come from a leave-one-out,
similarity-weighted k-NN vote over input embeddings; each class j gets a threshold t_j, the mean
probability of j among examples labelled j; an example labelled i is a suspect when another class j
reaches its threshold and beats i by a clear margin. The vote is only trusted for a field whose
labels it reproduces well (leave-one-out agreement >= 80%): on a field the inputs' meaning does not
determine, every disagreement would look like noise. Inputs that appear with several outputs are
contradictions (check 4) and are left out here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status, worst
from tuneworth.audit.neighbors import knn
from tuneworth.audit.text import norm

NAME = "label_noise"
TITLE = "Label-noise suspects"
K = 10
MIN_P = 0.7
MIN_AGREEMENT = 0.8
FAIL_SHARE = 0.05


def suspects(
    emb: Any, labels: list[str | None], exclude: set[int]
) -> tuple[float, list[tuple[int, str, float, float]]]:
    """The vote's leave-one-out agreement with the labels, and (index, likely label, p(likely), p(given))
    for each suspect, most confident first."""
    import numpy as np

    idx, sim = knn(emb, K)
    w = np.clip(sim, 0.0, None)
    classes = sorted({lab for lab in labels if lab is not None})
    col = {c: k for k, c in enumerate(classes)}
    onehot = np.zeros((len(labels), len(classes)))
    for i, lab in enumerate(labels):
        if lab is not None and i not in exclude:
            onehot[i, col[lab]] = 1.0
    votes = (w[:, :, None] * onehot[idx]).sum(axis=1)
    total = votes.sum(axis=1, keepdims=True)
    probs = np.divide(votes, total, out=np.zeros_like(votes), where=total > 0)
    thresholds = np.zeros(len(classes))
    for c, k in col.items():
        members = [i for i, lab in enumerate(labels) if lab == c and i not in exclude]
        thresholds[k] = probs[members, k].mean() if members else 1.0
    out = []
    agree = seen = 0
    for i, lab in enumerate(labels):
        if lab is None or i in exclude or total[i, 0] == 0:
            continue
        given = col[lab]
        seen += 1
        agree += int(probs[i].argmax() == given)
        p = probs[i].copy()
        p_given = float(p[given])
        p[given] = -1.0
        j = int(p.argmax())
        if p[j] >= max(thresholds[j], MIN_P) and p[j] > 2 * p_given:
            out.append((i, classes[j], float(p[j]), p_given))
    return (agree / seen if seen else 0.0), sorted(out, key=lambda s: (s[3] - s[2], s[0]))


def determined_by(keys: dict[str, list[str | None]]) -> dict[str, str]:
    """Fields whose value follows from another field's value in every example (``urgent`` from ``topic``).

    Such a field carries no label information of its own: its errors are the other field's errors.
    """
    out: dict[str, str] = {}
    names = list(keys)
    for b in names:
        for a in names:
            if a == b or a in out:
                continue
            seen: dict[str, str] = {}
            ok = True
            for va, vb in zip(keys[a], keys[b], strict=True):
                if va is None or vb is None:
                    continue
                if seen.setdefault(va, vb) != vb:
                    ok = False
                    break
            if ok and len(set(seen)) >= len(set(seen.values())) and (len(set(seen)) > len(set(seen.values())) or names.index(a) < names.index(b)):
                out[b] = a
                break
    return out


def run(ctx: AuditContext) -> CheckResult:
    keys = ctx.class_keys()
    if not keys:
        return CheckResult(NAME, TITLE, "skip", f"{ctx.kind} outputs: no labels to check")
    if not ctx.use_embeddings:
        return CheckResult(NAME, TITLE, "skip", "needs embeddings (off)")
    n = len(ctx.records)
    if n < 2 * K:
        return CheckResult(NAME, TITLE, "skip", f"{n} examples: too few for neighbour consensus (needs {2 * K})")
    groups: dict[str, set[str]] = defaultdict(set)
    for r in ctx.records:
        groups[norm(r.example.input)].add(norm(r.example.output))
    exclude = {i for i, r in enumerate(ctx.records) if len(groups[norm(r.example.input)]) > 1}
    status: Status = "pass"
    evidence: list[Evidence] = []
    metrics: dict[str, Any] = {"k": K}
    found: Counter[str] = Counter()
    flagged: set[int] = set()
    weak: list[str] = []
    agreement: dict[str, float] = {}
    derived = determined_by(keys)
    metrics["determined_by"] = derived
    for field, labels in keys.items():
        if len({lab for lab in labels if lab is not None}) < 2 or field in derived:
            continue
        agree, sus = suspects(ctx.embeddings, labels, exclude)
        agreement[field] = round(agree, 3)
        if agree < MIN_AGREEMENT:
            weak.append(f"{field} {agree:.0%}")
            continue
        found[field] = len(sus)
        for i, likely, p_likely, p_given in sus:
            flagged.add(i)
            r = ctx.records[i]
            evidence.append(Evidence(
                f"{field} is {labels[i]!r}, its neighbours say {likely!r} ({p_likely:.0%} vs {p_given:.0%})",
                [r.line], [r.example.input[:100]], ctx.data.name))
    metrics["suspects"] = dict(found)
    metrics["neighbour_agreement"] = agreement
    weak_note = (
        f"neighbour vote too weak to judge {', '.join(weak)} (agreement < {MIN_AGREEMENT:.0%})" if weak else ""
    )
    k = len(flagged)
    if not found:
        return CheckResult(NAME, TITLE, "skip", weak_note or "no field with two or more labels", evidence, metrics)
    if k:
        status = worst(status, "fail" if k > FAIL_SHARE * n else "warn")
        reason = f"{k} suspect label(s) ({k / n:.1%}): " + ", ".join(f"{f} {c}" for f, c in found.items() if c)
    else:
        reason = f"every {', '.join(found)} label agrees with its {K} nearest neighbours' consensus"
    if weak_note:
        reason += f"; {weak_note}"
    return CheckResult(NAME, TITLE, status, reason, evidence, metrics)

"""5. Consistency: one output format (JSON parse rate, key set, schema), one system prompt, and no style
or length outliers among the outputs.

Style is judged against the data's own majority (>= 90%): a dataset that mostly ends answers with a
full stop flags the few that do not, whatever the convention is.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from tuneworth.audit.context import AuditContext
from tuneworth.audit.model import CheckResult, Evidence, Status, worst
from tuneworth.audit.text import casing, end_punct, language, norm, robust_outliers

NAME = "consistency"
TITLE = "Consistency"
MAJORITY = 0.9
Flag = Callable[[Status, str, Evidence], None]


def run(ctx: AuditContext) -> CheckResult:
    recs = ctx.records
    n = len(recs)
    name = ctx.data.name
    status: Status = "pass"
    reasons: list[str] = []
    evidence: list[Evidence] = []
    metrics: dict[str, Any] = {}

    def flag(s: Status, reason: str, ev: Evidence) -> None:
        nonlocal status
        status = worst(status, s)
        reasons.append(reason)
        evidence.append(ev)

    outs = [r.example.output for r in recs]
    if ctx.kind == "json":
        _json_outputs(ctx, outs, metrics, flag)
    # One system prompt.
    systems = Counter(r.example.system for r in recs)
    metrics["system_prompts"] = len(systems)
    if len(systems) > 1:
        common, _ = systems.most_common(1)[0]
        odd = [i for i, r in enumerate(recs) if r.example.system != common]
        flag("warn", f"{len(systems)} different system prompts",
             Evidence(f"system prompt differs from the usual one ({len(odd)} example(s))", [recs[i].line for i in odd],
                      [repr((recs[i].example.system or "(none)")[:90]) for i in odd[:3]], name))
    # Label spelling variants.
    if ctx.kind == "label":
        by_norm: dict[str, Counter[str]] = {}
        for o in outs:
            by_norm.setdefault(norm(o), Counter())[o.strip()] += 1
        for variants in by_norm.values():
            if len(variants) > 1:
                main, _ = variants.most_common(1)[0]
                odd = [i for i, o in enumerate(outs) if norm(o) == norm(main) and o.strip() != main]
                flag("warn", f"label {main!r} is spelled {len(variants)} ways",
                     Evidence(f"label written differently from {main!r}", [recs[i].line for i in odd],
                              [outs[i] for i in odd[:3]], name))
    # Style of free-text outputs.
    if ctx.kind == "text" and n >= 10:
        _text_style(ctx, outs, flag)
    # Output-length outliers (log scale, robust z > 5).
    lengths = [math.log1p(len(o)) for o in outs]
    odd = robust_outliers(lengths)
    if odd:
        med = sorted(len(o) for o in outs)[n // 2]
        flag("warn", f"{len(odd)} output-length outlier(s) (median {med} characters)",
             Evidence("output far longer or shorter than the rest", [recs[i].line for i in odd],
                      [f"{len(outs[i])} chars: {outs[i][:70]}" for i in odd[:3]], name))
    if status == "pass":
        parts = [f"{ctx.kind} outputs"]
        if "json_parse_rate" in metrics:
            parts.append(f"{metrics['json_parse_rate']:.0%} parse as JSON objects")
        if "schema_valid_rate" in metrics:
            parts.append(f"{metrics['schema_valid_rate']:.0%} schema-valid")
        parts.append(f"{len(systems)} system prompt" + ("" if len(systems) == 1 else "s"))
        parts.append("no style or length outliers")
        reasons = [", ".join(parts)]
    return CheckResult(NAME, TITLE, status, "; ".join(reasons), evidence, metrics)


def _json_outputs(ctx: AuditContext, outs: list[str], metrics: dict[str, Any], flag: Flag) -> None:
    """JSON tasks: parse rate, rare keys (typos), schema validity."""
    recs, n, name = ctx.records, len(ctx.records), ctx.data.name
    objs = ctx.outputs_json
    bad = [i for i, o in enumerate(objs) if o is None]
    metrics["json_parse_rate"] = round(1 - len(bad) / n, 4)
    if bad:
        flag("fail", f"{len(bad)} output(s) are not JSON objects",
             Evidence("output is not a JSON object", [recs[i].line for i in bad], [outs[i][:100] for i in bad[:3]], name))
    key_counts = Counter(k for o in objs if o for k in o)
    sets = Counter(tuple(sorted(o)) for o in objs if o)
    metrics["key_sets"] = len(sets)
    metrics["keys"] = dict(key_counts.most_common())
    rare_cut = max(1, n // 100)
    if n >= 20:
        for key, c in key_counts.items():
            if c <= rare_cut and len(key_counts) > 1:
                lines = [recs[i].line for i, o in enumerate(objs) if o and key in o]
                flag("warn", f"key {key!r} appears in only {c} output(s)",
                     Evidence(f"rare key {key!r} ({c} of {n} outputs): a typo or a one-off field?", lines, [], name))
    if ctx.schema:
        import jsonschema

        validator = jsonschema.validators.validator_for(ctx.schema)(ctx.schema)
        invalid = [(i, next(iter(validator.iter_errors(o)), None)) for i, o in enumerate(objs) if o is not None]
        invalid = [(i, e) for i, e in invalid if e is not None]
        metrics["schema_valid_rate"] = round(1 - (len(invalid) + len(bad)) / n, 4)
        if invalid:
            flag("fail", f"{len(invalid)} output(s) break the JSON Schema",
                 Evidence("output does not match the schema", [recs[i].line for i, _ in invalid],
                          [f"line {recs[i].line}: {e.message[:90]}" for i, e in invalid[:3] if e], name))


def _text_style(ctx: AuditContext, outs: list[str], flag: Flag) -> None:
    """Free-text tasks: casing, ending and language against the data's own majority."""
    recs, n, name = ctx.records, len(ctx.records), ctx.data.name
    for label, fn in (("casing", casing), ("ending", lambda t: "punct" if end_punct(t) else "none")):
        vals = [fn(o) for o in outs]
        top, c = Counter(vals).most_common(1)[0]
        odd = [i for i, v in enumerate(vals) if v != top]
        if odd and c >= MAJORITY * n:
            flag("warn", f"{len(odd)} output(s) break the {label} style of the rest",
                 Evidence(f"{label} differs from the other {c} outputs ({top})", [recs[i].line for i in odd],
                          [outs[i][:80] for i in odd[:3]], name))
    langs = [language(o) for o in outs]
    known = [g for g in langs if g]
    if known and sum(1 for g in known if g == "en") >= MAJORITY * len(known):
        odd = [i for i, g in enumerate(langs) if g == "other"]
        if odd:
            flag("warn", f"{len(odd)} output(s) not in English, unlike the rest",
                 Evidence("output language differs", [recs[i].line for i in odd], [outs[i][:80] for i in odd[:3]], name))

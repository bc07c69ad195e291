"""``tuneworth decide`` without a run: the framework as a questionnaire, for a team with no data yet.

The answers become the same five ``Answer``s a run produces, and the same ``decide`` rules turn
them into a recommendation. ``ask`` is injected (click.prompt in the CLI), so tests script it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneworth.decide.breakeven import fmt_volume
from tuneworth.decide.calculator import scenario
from tuneworth.decide.framework import Answer, Decision, Evidence, decide

Ask = Callable[[str, Any, Any], Any]  # (question, type or choices, default) -> answer
YN = ["yes", "no", "unknown"]


def run_questionnaire(ask: Ask) -> tuple[Decision, dict[str, Any] | None]:
    """Ask the five questions (with the numbers for break-even) and decide."""
    tried = ask("Have you tried prompting: clear instructions, then few-shot examples?", YN, "unknown")
    plateau = ask("Did more prompt work or more examples stop improving the results?", YN, "unknown")
    n = ask("How many labelled examples do you have (0 if none yet)?", int, 0)
    clean = ask("Have they been checked (format, duplicates, contradictions, balance)?", YN, "unknown")
    kind = ask("Are most failures missing knowledge, or behaviour (format, style, policy)?", ["knowledge", "behaviour", "unknown"], "unknown")
    gain = ask("Have you measured fine-tuning's gain on held-out test items?", ["significant", "none", "not measured"], "not measured")
    requests = ask("Requests per month you expect (0 if unknown)?", int, 0)
    answers: dict[str, Answer] = {}
    answers["prompting"] = Answer(
        "prompting",
        "yes" if tried == "yes" else "no" if tried == "no" else "unknown",
        {"yes": "yes", "no": "no: prompting has not been tried"}.get(tried, "unknown"),
        [f"prompting tried: {tried}", f"plateaued: {plateau}"],
    )
    if n < 10 or clean == "no":
        data = Answer("data", "no", "no: " + ("fewer than 10 examples" if n < 10 else "the data has known problems"), [f"{n} examples", f"checked: {clean}"])
    elif n >= 50 and clean == "yes":
        data = Answer("data", "yes", f"yes: {n} checked examples", [f"{n} examples", "checked: yes"])
    else:
        data = Answer("data", "unknown", f"unknown: {n} examples, checked: {clean}", [f"{n} examples", f"checked: {clean}"])
    answers["data"] = data
    econ: dict[str, Any] | None = None
    changes: list[str] = []
    if requests > 0 and ask("Estimate break-even from token counts now?", ["yes", "no"], "yes") == "yes":
        model = ask("Model to price (provider/name)", str, "openai/gpt-4o-mini")
        prompt = ask("Prompt tokens per request today (with instructions and examples)", float, 800.0)
        ft_prompt = ask("Prompt tokens per request after fine-tuning (instructions only)", float, 100.0)
        completion = ask("Answer tokens per request", float, 20.0)
        rate = ask("Engineer $ per hour", float, 100.0)
        econ = scenario(
            model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            ft_prompt_tokens=ft_prompt,
            train_examples=max(n, 10),
            economics={"requests_per_month": requests, "human_hourly_rate": rate},
        )
        be = econ["break_even"]
        ev = [f"break-even: {fmt_volume(be['requests_per_month'])} requests/month ({be['reason']})", f"expected: {fmt_volume(requests)}"]
        if be["never"]:
            answers["volume"] = Answer("volume", "no", "no: fine-tuning costs more per request", ev)
        elif econ["pays_back"]:
            answers["volume"] = Answer("volume", "yes", f"yes: {fmt_volume(requests)} ≥ {fmt_volume(be['requests_per_month'])}", ev)
            changes.append(f"below {fmt_volume(be['requests_per_month'])} requests/month it would not pay back")
        else:
            answers["volume"] = Answer("volume", "no", f"no: {fmt_volume(requests)} < {fmt_volume(be['requests_per_month'])}", ev)
            changes.append(f"above {fmt_volume(be['requests_per_month'])} requests/month fine-tuning pays back")
    else:
        answers["volume"] = Answer("volume", "unknown", "unknown: no volume or prices given", [f"requests/month: {requests or 'unknown'}"])
    answers["significance"] = Answer(
        "significance",
        {"significant": "yes", "none": "no"}.get(gain, "unknown"),  # type: ignore[arg-type]
        {"significant": "yes", "none": "no: no significant gain measured"}.get(gain, "unknown: not measured"),
        [f"measured gain: {gain}"],
    )
    answers["knowledge"] = Answer(
        "knowledge",
        {"behaviour": "yes", "knowledge": "no"}.get(kind, "unknown"),  # type: ignore[arg-type]
        {"behaviour": "yes: behaviour", "knowledge": "no: missing knowledge (use retrieval)"}.get(kind, "unknown"),
        [f"failures: {kind}"],
    )
    if gain == "not measured":
        changes.insert(0, "measuring it: `tuneworth climb TASK` scores every rung on the same test items")
    ran = gain != "not measured"
    e = Evidence(answers=answers, stop_rung=None, l4_ran=ran, changes=changes)
    return decide(e), econ

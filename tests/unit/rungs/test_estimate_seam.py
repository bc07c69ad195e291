"""``Rung.estimate``: each rung sizes its own prompts before a run (the seam `tuneworth estimate`
uses instead of probing rungs), matching what the estimate computes today."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.data import write_label_task
from tuneworth.config.task import load_task
from tuneworth.data.load import load_split
from tuneworth.decide.estimate import SAMPLE, approx_tokens, rung_plan
from tuneworth.rungs import load_rung
from tuneworth.rungs.base import RunContext


def test_each_rung_estimates_its_prompt_and_answer_sizes(tmp_path: Path) -> None:
    task = load_task(write_label_task(tmp_path / "t", '[model]\nname = "fake/x"\n'))
    split, _ = load_split(task)
    sample = split.validation[:SAMPLE]
    for name in ("L1", "L2", "L3"):
        ctx = RunContext(task, split, None, approx_tokens)
        rung = load_rung(name)
        est = rung.estimate(ctx, sample, approx_tokens)
        assert est is not None and est.prompt_tokens > 0 and est.completion_tokens > 0
        plan = rung_plan(load_rung(name), RunContext(task, split, None, approx_tokens), load_rung("L1"))
        assert (round(est.prompt_tokens, 1), round(est.completion_tokens, 1)) == (
            plan["prompt_tokens"], plan["completion_tokens"]
        ), name
        assert est.note == plan["note"]
    # Demonstrations make L2's prompts longer than L1's; L3 adds retrieved context on top of L2's base.
    sizes = {n: load_rung(n).estimate(RunContext(task, split, None, approx_tokens), sample, approx_tokens) for n in ("L1", "L2")}
    assert sizes["L2"] is not None and sizes["L1"] is not None and sizes["L2"].prompt_tokens > sizes["L1"].prompt_tokens
    assert load_rung("L4").estimate(RunContext(task, split, None, approx_tokens), sample, approx_tokens) is None

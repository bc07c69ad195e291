"""L1 prompting: the user's system prompt plus automatic variants, chosen on validation.

Variants: ``base`` (the user's prompt as written), ``format`` (+ explicit output format from the
label set or JSON Schema), ``rules`` (+ format + rules), ``cot`` (+ chain-of-thought with the
final answer parsed from an ``Answer:`` line), and any hand-written ``prompt.variants``.
"""

from __future__ import annotations

from collections.abc import Callable

from tuneworth.data.example import Example
from tuneworth.rungs.base import (
    Estimate,
    RunContext,
    Rung,
    ScoreFn,
    Selection,
    Strategy,
    answer_tokens,
    prompt_tokens,
)
from tuneworth.rungs.prompts import cot_instruction, format_instruction, rules_block


class PromptingRung(Rung):
    name = "L1"
    title = "L1 prompting"
    fixes = "behaviour"
    cost_class = "prompt"
    order = 1

    def strategies(self, ctx: RunContext) -> list[Strategy]:
        task, schema = ctx.task, ctx.schema
        base = task.prompt.system.strip()
        fmt = format_instruction(task, schema)
        max_tokens = task.model.max_tokens
        out: list[Strategy] = []
        for variant in task.rungs.L1.variants:
            if variant == "base":
                out.append(Strategy(self.name, {"variant": "base"}, base, max_tokens))
            elif variant == "format":
                out.append(Strategy(self.name, {"variant": "format"}, f"{base}\n\n{fmt}", max_tokens))
            elif variant == "rules":
                out.append(
                    Strategy(
                        self.name,
                        {"variant": "rules"},
                        f"{base}\n\n{fmt}\n\n{rules_block(task, schema)}",
                        max_tokens,
                    )
                )
            elif variant == "cot":
                system = f"{base}\n\n{cot_instruction(task, schema)}"
                out.append(Strategy(self.name, {"variant": "cot"}, system, task.rungs.L1.cot_max_tokens, cot=True))
        for name, text in task.prompt.variants.items():
            out.append(Strategy(self.name, {"variant": f"custom:{name}"}, text.strip(), max_tokens))
        # Each constrained decoding is a variant of every plain prompt (reasoning needs free text).
        constrained = [m for m in ctx.decodings if m != "free"]
        if constrained:
            from tuneworth.decoding.plan import with_decoding

            plain = [s for s in out if not s.cot]
            if "free" not in ctx.decodings:
                out = []
            out += [with_decoding(s, m, ctx.labels, schema) for m in constrained for s in plain]
        return out

    def planned_candidates(self, ctx: RunContext) -> int:
        return len(self.strategies(ctx))

    def estimate(self, ctx: RunContext, sample: list[Example], count: Callable[[str], int]) -> Estimate:
        """Every variant's real prompt; chain-of-thought variants answer up to their token cap."""
        strategies = self.strategies(ctx)
        answer = answer_tokens(ctx, sample, count)
        cot = [s for s in strategies if s.cot]
        completion = (answer * (len(strategies) - len(cot)) + sum(s.max_tokens for s in cot)) / max(1, len(strategies))
        prompts = [prompt_tokens(s, sample, count) for s in strategies]
        return Estimate(
            prompt_tokens=sum(prompts) / max(1, len(prompts)),
            completion_tokens=completion,
            extra={"base_prompt_tokens": round(prompts[0], 1) if prompts else 0.0},
        )

    def select(self, ctx: RunContext, score: ScoreFn) -> Selection:
        candidates = self.strategies(ctx)
        scores = score(candidates)
        table = [{"config": s.config, "score": sc} for s, sc in zip(candidates, scores, strict=True)]
        # Ties go to the earlier (simpler, cheaper) variant.
        best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
        return Selection(candidates[best], table)

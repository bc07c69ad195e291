"""Run strategies over items: build requests, generate in batches, score, and record each item.

Every candidate a rung proposes is scored in one ``Model.generate`` call (all candidates x all
validation items), so the local provider fills its batches. Each finished item is appended to the
run record as it completes. Errors are kept apart: an errored item has no score.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tuneworth.data.example import Example
from tuneworth.evaluate.metrics import Score, score_json, score_label, score_text
from tuneworth.evaluate.parse import parse_answer
from tuneworth.evaluate.textmetrics import EmbeddingSimilarity, score_free_text
from tuneworth.providers.base import Completion
from tuneworth.providers.model import Model
from tuneworth.record.schema import ItemResult, Phase
from tuneworth.run.resume import item_key
from tuneworth.rungs.base import RunContext, Strategy

if TYPE_CHECKING:
    from tuneworth.judge.judge import Judge


class Scorer:
    """Scores completions against gold outputs with the task's metric."""

    def __init__(self, ctx: RunContext) -> None:
        self.task = ctx.task
        self.kind = ctx.task.output.kind
        self.metric = ctx.task.primary_metric
        self.validator: Any = None
        if ctx.schema is not None:
            import jsonschema

            self.validator = jsonschema.validators.validator_for(ctx.schema)(ctx.schema)
        self._gold: dict[str, Any] = {}
        self.text_metrics = tuple(ctx.task.scoring.record)
        self.threshold = ctx.task.scoring.pass_threshold
        self.cosine: EmbeddingSimilarity | None = None
        if self.kind == "text" and ("embedding" in self.text_metrics or self.metric == "embedding"):
            self.cosine = EmbeddingSimilarity()
            # One batch for every reference up front; answers are embedded as they arrive.
            self.cosine.prime([ex.output for ex in (*ctx.split.validation, *ctx.split.test)])

    def gold(self, ex: Example) -> Any:
        if ex.id not in self._gold:
            self._gold[ex.id] = json.loads(ex.output) if self.kind == "json" else ex.output
        return self._gold[ex.id]

    def score(self, ex: Example, text: str, cot: bool) -> Score:
        parsed = parse_answer(text, self.kind, self.task.output.labels, cot=cot)
        if self.kind == "json":
            return score_json(parsed, self.gold(ex), self.metric, self.validator)
        if self.kind == "label":
            return score_label(parsed, ex.output, self.task.output.labels or [])
        if self.metric in ("exact", "normalized") and self.text_metrics == ():
            return score_text(parsed, parsed.value if cot else text, ex.output, self.metric)
        return score_free_text(
            self.answer(text, cot), ex.output, self.metric, self.text_metrics, self.cosine, self.threshold,
            parsed.ok,
        )

    def answer(self, text: str, cot: bool) -> str:
        """The part of a completion that is scored (the text after ``Answer:`` for chain-of-thought)."""
        if not cot:
            return text
        parsed = parse_answer(text, self.kind, self.task.output.labels, cot=True)
        return str(parsed.value) if parsed.ok else text


class Evaluator:
    def __init__(
        self,
        ctx: RunContext,
        model: Model,
        *,
        sink: Callable[[ItemResult], None] | None = None,
        advance: Callable[[int], None] | None = None,
        finished: dict[str, ItemResult] | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.finished = finished or {}
        """Items already in the record (a resumed run), by ``resume.item_key``: kept, not asked again."""
        self.ctx = ctx
        self.judge = judge if ctx.task.output.kind == "text" else None
        self.model = model
        self.scorer = Scorer(ctx)
        self.sink = sink
        self.advance = advance

    def run(
        self, strategies: Sequence[Strategy], items: Sequence[Example], phase: Phase
    ) -> list[list[ItemResult]]:
        """Results per strategy (in item order) for every strategy x item."""
        pairs = [(s, ex) for s in strategies for ex in items]
        results: list[ItemResult | None] = [None] * len(pairs)
        todo: list[int] = []
        for i, (s, ex) in enumerate(pairs):
            prior = self.finished.get(item_key(s.rung, phase, s.config, ex.id)) if self.finished else None
            if prior is None:
                todo.append(i)
                continue
            results[i] = prior
            if self.advance is not None:
                self.advance(1)
        requests = [pairs[i][0].request(pairs[i][1], self.ctx.task) for i in todo]

        def done(j: int, c: Completion) -> None:
            i = todo[j]
            s, ex = pairs[i]
            results[i] = r = self._result(s, ex, c, phase)
            if self.sink is not None and self.judge is None:
                self.sink(r)
            if self.advance is not None:
                self.advance(1)

        self.model.generate(requests, on_done=done)
        if self.judge is not None:
            # Judged after generation, all items in one batched call; recorded once judged.
            self._judge(pairs, results)
            for r in results:
                if r is not None and self.sink is not None:
                    self.sink(r)
        out: list[list[ItemResult]] = []
        for j in range(len(strategies)):
            chunk = results[j * len(items) : (j + 1) * len(items)]
            out.append([r for r in chunk if r is not None])
        return out

    def _result(self, s: Strategy, ex: Example, c: Completion, phase: Phase) -> ItemResult:
        common: dict[str, Any] = {
            "rung": s.rung, "phase": phase, "config": s.config, "item_id": ex.id,
            "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
            "latency_ms": round(c.latency_ms, 2),  # as the record keeps it
        }
        if phase == "test":  # reports show a flipped item's input and gold from the record alone
            common.update(input=ex.input, gold=ex.output)
        if c.error is not None:
            return ItemResult(
                **common, output="", score=None, valid=False, error=c.error, finish_reason="error",
                decoding=s.decoding,
            )
        sc = self.scorer.score(ex, c.text, s.cot)
        return ItemResult(
            **common, output=c.text, score=sc.value, valid=sc.valid, finish_reason=c.finish_reason,
            details=sc.details, cached=bool(c.meta.get("cached")),
            # What the provider actually did (an API may have fallen back), else what was asked for.
            decoding=str(c.meta.get("decoding") or s.decoding),
        )

    def _judge(self, pairs: Sequence[tuple[Strategy, Example]], results: list[ItemResult | None]) -> None:
        assert self.judge is not None
        todo = [(k, r) for k, r in enumerate(results) if r is not None and r.error is None]
        triples = []
        for k, r in todo:
            s, ex = pairs[k]
            triples.append((ex.input, self.scorer.answer(r.output, s.cot), ex.output))
        threshold = self.ctx.task.scoring.pass_threshold
        for (_, r), j in zip(todo, self.judge.judge_many(triples), strict=True):
            r.details["judge"] = j.to_dict()
            r.score = j.value
            if j.value is None:
                r.valid = False
            elif threshold is not None:
                r.details["pass"] = j.value >= threshold

    def validation_scores(self, strategies: Sequence[Strategy]) -> list[float]:
        """Mean validation score per strategy (errored items excluded; all-errored scores 0)."""
        per = self.run(strategies, self.ctx.split.validation, "validation")
        means = []
        for results in per:
            scores = [r.score for r in results if r.score is not None]
            means.append(sum(scores) / len(scores) if scores else 0.0)
        return means

"""L2 few-shot: k demonstrations from train, selected randomly, label-stratified, or by nearest neighbour.

Demonstrations come only from the train split and go in as real user/assistant turns. The system
prompt is L1's best non-chain-of-thought prompt (demonstrations show plain answers, so they would
contradict a reasoning prompt). ``random`` and ``stratified`` use one fixed set for every item
(which lets a provider reuse the shared prefix); ``nearest`` picks per item by embedding cosine
(all-MiniLM-L6-v2, ``retrieval/neighbours.py``), most similar last (closest to the query). Prompts stay under ``max_prompt_tokens``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tuneworth.data.example import Example
from tuneworth.data.split import stratum_of
from tuneworth.retrieval.neighbours import EmbeddingNeighbours
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
from tuneworth.rungs.prompting import PromptingRung


class FewShotRung(Rung):
    name = "L2"
    title = "L2 few-shot"
    fixes = "behaviour"
    cost_class = "prompt"
    order = 2

    def __init__(self) -> None:
        self._index: tuple[list[Example], EmbeddingNeighbours] | None = None

    def index(self, train: list[Example]) -> EmbeddingNeighbours:
        """The embedding index over train inputs, built once and shared by every nearest-neighbour k."""
        if self._index is None or self._index[0] is not train:
            self._index = (train, EmbeddingNeighbours([ex.input for ex in train]))
        return self._index[1]

    def base_strategy(self, ctx: RunContext) -> Strategy:
        chosen = ctx.chosen.get(PromptingRung.name)
        if chosen is not None and not chosen.cot:
            return chosen
        plain = [s for s in PromptingRung().strategies(ctx) if not s.cot]
        options = [s for s in plain if s.decoding == "free"] or plain
        by_variant = {s.config["variant"]: s for s in options}
        # Without an L1 result (or when L1 chose CoT), the format variant is the natural base.
        return by_variant.get("format") or by_variant.get("base") or options[0]

    def ks(self, ctx: RunContext) -> list[int]:
        n_train = len(ctx.split.train)
        return sorted({k for k in ctx.task.rungs.L2.k if 0 < k <= n_train}) or [min(1, n_train)]

    def plan(self, ctx: RunContext) -> list[tuple[int, str]]:
        """The (k, selection) pairs of the first search stage."""
        cfg = ctx.task.rungs.L2
        ks = self.ks(ctx)
        if cfg.search == "grid":
            return [(k, sel) for sel in cfg.selection for k in ks]
        mid = ks[(len(ks) - 1) // 2]
        return [(mid, sel) for sel in cfg.selection]

    def planned_candidates(self, ctx: RunContext) -> int:
        cfg = ctx.task.rungs.L2
        extra = len(ctx.decodings) - 1  # the other decodings, tried at the chosen demonstrations
        if cfg.search == "grid":
            return len(self.plan(ctx)) + extra
        return len(cfg.selection) + len(self.ks(ctx)) - 1 + extra

    def estimate(self, ctx: RunContext, sample: list[Example], count: Callable[[str], int]) -> Estimate:
        """Demonstrations from train at each planned k. Nearest-neighbour prompts are sized with
        random demonstrations of the same k: an estimate loads no embedding model (k fixes the
        prompt size far more than which examples are picked)."""
        plan = self.plan(ctx)
        sizes = [prompt_tokens(self.strategy(ctx, k, "random" if s == "nearest" else s), sample, count) for k, s in plan]
        nearest = any(s == "nearest" for _, s in plan)
        return Estimate(
            prompt_tokens=sum(sizes) / max(1, len(sizes)),
            completion_tokens=answer_tokens(ctx, sample, count),
            note="nearest-neighbour prompts sized with random demonstrations of the same k" if nearest else "",
        )

    def strategy(self, ctx: RunContext, k: int, selection: str) -> Strategy:
        base = self.base_strategy(ctx)
        train = ctx.split.train
        rng = random.Random(ctx.task.seed)
        budget = ctx.task.rungs.L2.max_prompt_tokens
        fixed: list[Example] | None = None
        picker: Callable[[Example], list[Example]]
        if selection == "random":
            fixed = rng.sample(train, k)
        elif selection == "stratified":
            key = stratum_of(ctx.task)
            groups: dict[str, list[Example]] = defaultdict(list)
            for ex in train:
                groups[key(ex)].append(ex)
            for g in groups.values():
                rng.shuffle(g)
            # Round-robin over strata, most frequent first, so k < #strata covers the commonest labels.
            order = sorted(groups, key=lambda s: (-len(groups[s]), s))
            fixed = []
            i = 0
            while len(fixed) < k:
                for s in order:
                    if i < len(groups[s]) and len(fixed) < k:
                        fixed.append(groups[s][i])
                i += 1
            rng.shuffle(fixed)
        else:
            index = self.index(train)
            index.prefetch([ex.input for ex in ctx.split.validation])  # one batched embedding call

            def picker(ex: Example) -> list[Example]:
                hits = index.search(ex.input, k)
                return [train[i] for i, _ in reversed(hits)]

        if fixed is not None:
            demos_fixed = fixed

            def picker(ex: Example) -> list[Example]:
                return demos_fixed

        count = ctx.count_tokens
        base_tokens = count(base.system)

        def within_budget(ex: Example) -> list[Example]:
            demos = picker(ex)
            used = base_tokens + count(ex.input)
            kept: list[Example] = []
            # Keep the demonstrations closest to the query (the end of the list) first.
            for d in reversed(demos):
                cost = count(d.input) + count(d.output) + 8
                if used + cost > budget:
                    break
                kept.insert(0, d)
                used += cost
            return kept

        config: dict[str, Any] = {"k": k, "selection": selection, "prompt": base.config.get("variant")}
        strategy = Strategy(self.name, config, base.system, base.max_tokens, demos=within_budget)
        if base.decoding != "free":  # demonstrations keep L1's chosen decoding
            from tuneworth.decoding.plan import with_decoding

            strategy = with_decoding(strategy, base.decoding, ctx.labels, ctx.schema)
        return strategy

    def select(self, ctx: RunContext, score: ScoreFn) -> Selection:
        cfg = ctx.task.rungs.L2
        first = [self.strategy(ctx, k, sel) for k, sel in self.plan(ctx)]
        scores = score(first)
        table = [{"config": s.config, "score": sc} for s, sc in zip(first, scores, strict=True)]
        candidates, all_scores = list(first), list(scores)
        notes = []
        if cfg.search == "coordinate":
            best_sel = first[max(range(len(first)), key=lambda i: (scores[i], -i))].config["selection"]
            mid = first[0].config["k"]
            rest = [self.strategy(ctx, k, best_sel) for k in self.ks(ctx) if k != mid]
            rest_scores = score(rest) if rest else []
            table += [{"config": s.config, "score": sc} for s, sc in zip(rest, rest_scores, strict=True)]
            candidates += rest
            all_scores += rest_scores
            notes.append(
                f"coordinate search: selection chosen at k={mid}, then k swept with selection={best_sel}"
            )
        # Ties go to fewer demonstrations (cheaper prompts), then to the earlier candidate.
        best = max(range(len(candidates)), key=lambda i: (all_scores[i], -candidates[i].config["k"], -i))
        others = [m for m in ctx.decodings if m != candidates[best].decoding]
        if others:
            # Like for like: the other decodings are tried with the chosen demonstrations too.
            from tuneworth.decoding.plan import with_decoding

            winner = candidates[best]
            alt = [with_decoding(winner, m, ctx.labels, ctx.schema) for m in others]
            alt_scores = score(alt)
            table += [{"config": s.config, "score": sc} for s, sc in zip(alt, alt_scores, strict=True)]
            notes.append(f"decodings compared at the chosen demonstrations: {', '.join(others)}")
            # Ties keep the decoding chosen so far.
            top = max(range(len(alt)), key=lambda i: (alt_scores[i], -i))
            if alt_scores[top] > all_scores[best]:
                best = len(candidates) + top
            candidates += alt
            all_scores += alt_scores
        return Selection(candidates[best], table, notes)

"""L3 RAG: retrieved document chunks, with source tags, added to the best prompt so far.

With ``data.docs``: the hybrid index of the documents (loaded, or rebuilt when they changed) ranks
chunks for each item's input; the top ``k`` enter the system prompt as ``[source#chunk]`` blocks
until the ``context_tokens`` budget is spent. L3 builds on L2's chosen prompt and demonstrations,
so what it adds over L2 is the retrieval alone (that is what the diagnosis reads). ``k`` and the
budget are chosen on validation. Without documents (or with none usable) L3 runs dynamic few-shot:
the k training examples most similar to the item (embedding cosine) as demonstrations, under the
budget; the notes and the record's ``retrieval.mode`` say so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tuneworth.data.example import Example
from tuneworth.errors import ConfigError
from tuneworth.record.schema import Fixes, ItemResult, RetrievalSection
from tuneworth.retrieval.index import Hit, HybridIndex
from tuneworth.retrieval.neighbours import EmbeddingNeighbours
from tuneworth.retrieval.quality import retrieval_quality
from tuneworth.retrieval.store import IndexInfo, IndexSettings, open_index
from tuneworth.rungs.base import (
    Estimate,
    RunContext,
    Rung,
    RungSections,
    ScoreFn,
    Selection,
    Strategy,
    answer_tokens,
    prompt_tokens,
)
from tuneworth.rungs.fewshot import FewShotRung
from tuneworth.rungs.prompting import PromptingRung

CONTEXT_HEADER = "Reference documents (use them where they apply to the message):"


class RagRung(Rung):
    name = "L3"
    title = "L3 RAG"
    fixes = "knowledge"
    """Knowledge only when this run retrieved documents (``fixes_in_run``)."""
    cost_class = "retrieval"
    order = 3

    def __init__(self) -> None:
        self.mode: str | None = None  # "documents" | "dynamic_fewshot"
        self.index: HybridIndex | None = None
        self.info: IndexInfo | None = None
        self.notes: list[str] = []
        self._hits: dict[str, list[Hit]] = {}
        self._neighbours: EmbeddingNeighbours | None = None

    # ---- preparation ----------------------------------------------------------------------

    def prepare(self, ctx: RunContext) -> None:
        if self.mode is not None:
            return
        cfg = ctx.task.rungs.L3
        docs = ctx.task.data.docs
        if docs:
            settings = IndexSettings(cfg.chunk_tokens, cfg.chunk_overlap, cfg.embedding, cfg.embedding_base_url)
            try:
                self.index, self.info = open_index(ctx.task.resolve(docs), settings=settings, warn=self.notes.append)
            except ConfigError as e:
                self.notes.append(f"data.docs unusable ({e.message}); L3 fell back to dynamic few-shot")
            else:
                self.mode = "documents"
                self.notes.append(
                    f"index {self.info.status}: {self.info.documents} documents, {self.info.chunks} chunks"
                    + (f", {len(self.info.skipped)} files skipped" if self.info.skipped else "")
                )
                return
        else:
            self.notes.append(
                "no data.docs: L3 ran dynamic few-shot (the most similar training examples as demonstrations) "
                "instead of document retrieval"
            )
        self.mode = "dynamic_fewshot"
        from tuneworth.embeddings.load import load_embedder

        embedder = load_embedder(cfg.embedding, base_url=cfg.embedding_base_url)
        self._neighbours = EmbeddingNeighbours([ex.input for ex in ctx.split.train], embedder)

    def hits(self, ctx: RunContext, queries: list[str]) -> list[list[Hit]]:
        """Ranked chunks per query (memoised at the largest k, so every candidate reuses them)."""
        assert self.index is not None
        cfg = ctx.task.rungs.L3
        todo = list(dict.fromkeys(q for q in queries if q not in self._hits))
        if todo:
            ranked = self.index.search_many(todo, max(cfg.k), mode=cfg.retrieval, mmr=cfg.mmr, warn=self._warn)
            self._hits.update(zip(todo, ranked, strict=True))
        return [self._hits[q] for q in queries]

    def _warn(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    # ---- candidates -----------------------------------------------------------------------

    def base_strategy(self, ctx: RunContext) -> Strategy:
        chosen = ctx.chosen.get(FewShotRung.name)
        if chosen is not None and ctx.task.rungs.L3.demos and self.mode == "documents":
            return chosen
        return FewShotRung().base_strategy(ctx)

    def plan(self, ctx: RunContext) -> list[tuple[int, int]]:
        cfg = ctx.task.rungs.L3
        ks = sorted(set(cfg.k))
        budgets = sorted(set(cfg.context_tokens))
        if cfg.search == "grid":
            return [(k, b) for k in ks for b in budgets]
        return [(k, budgets[-1]) for k in ks]

    def estimate(self, ctx: RunContext, sample: list[Example], count: Callable[[str], int]) -> Estimate:
        """Retrieval needs an index (an embedding model) that an estimate does not load, so the
        retrieved context is counted at its token budget: an upper bound."""
        budgets = [float(budget) for _, budget in self.plan(ctx)]
        return Estimate(
            prompt_tokens=prompt_tokens(self.base_strategy(ctx), sample, count) + sum(budgets) / max(1, len(budgets)),
            completion_tokens=answer_tokens(ctx, sample, count),
            note="retrieved context counted at its token budget (an upper bound)",
        )

    def planned_candidates(self, ctx: RunContext) -> int:
        cfg = ctx.task.rungs.L3
        if cfg.search == "grid":
            return len(self.plan(ctx))
        return len(set(cfg.k)) + len(set(cfg.context_tokens)) - 1

    def strategy(self, ctx: RunContext, k: int, budget: int) -> Strategy:
        """A candidate, decoded like the best rung so far (like for like: retrieval is the only change)."""
        s = self._strategy(ctx, k, budget)
        best = ctx.chosen.get(FewShotRung.name) or ctx.chosen.get(PromptingRung.name)
        if best is not None and best.decoding != "free":
            s.decoding, s.response_format, s.choices = best.decoding, best.response_format, best.choices
            s.config["decoding"] = best.decoding
        return s

    def _strategy(self, ctx: RunContext, k: int, budget: int) -> Strategy:
        self.prepare(ctx)
        base = self.base_strategy(ctx)
        count = ctx.count_tokens
        cfg = ctx.task.rungs.L3
        if self.mode == "documents":
            def context(ex: Example) -> str:
                return render_context(self.hits(ctx, [ex.input])[0][:k], budget, count)

            config: dict[str, Any] = {"k": k, "context_tokens": budget, "retrieval": cfg.retrieval,
                                      "prompt": base.config.get("variant") or base.config.get("prompt")}
            if base.rung == FewShotRung.name:
                config["demos"] = f"{base.config.get('k')} {base.config.get('selection')}"
            return Strategy(self.name, config, base.system, base.max_tokens, cot=base.cot, demos=base.demos,
                            context=context)
        assert self._neighbours is not None
        neighbours, train = self._neighbours, ctx.split.train
        base_tokens = count(base.system)

        def demos(ex: Example) -> list[Example]:
            used = base_tokens + count(ex.input)
            kept: list[Example] = []
            for i, _ in neighbours.search(ex.input, k):  # most similar first; it goes last in the prompt
                cost = count(train[i].input) + count(train[i].output) + 8
                if used + cost > base_tokens + count(ex.input) + budget:
                    break
                kept.insert(0, train[i])
                used += cost
            return kept

        config = {"k": k, "context_tokens": budget, "mode": "dynamic_fewshot",
                  "prompt": base.config.get("variant")}
        return Strategy(self.name, config, base.system, base.max_tokens, demos=demos)

    def select(self, ctx: RunContext, score: ScoreFn) -> Selection:
        self.prepare(ctx)
        cfg = ctx.task.rungs.L3
        validation = [ex.input for ex in ctx.split.validation]
        if self.mode == "documents":
            self.hits(ctx, validation)
        elif self._neighbours is not None:
            self._neighbours.prefetch(validation)
        first = [self.strategy(ctx, k, b) for k, b in self.plan(ctx)]
        scores = score(first)
        candidates, all_scores = list(first), list(scores)
        if cfg.search == "coordinate":
            best_k = first[max(range(len(first)), key=lambda i: (scores[i], -i))].config["k"]
            top = max(cfg.context_tokens)
            rest = [self.strategy(ctx, best_k, b) for b in sorted(set(cfg.context_tokens)) if b != top]
            rest_scores = score(rest) if rest else []
            candidates += rest
            all_scores += rest_scores
            if rest:
                self.notes.append(
                    f"coordinate search: k chosen with context_tokens={top}, then the budget swept at k={best_k}"
                )
        table = [{"config": s.config, "score": sc} for s, sc in zip(candidates, all_scores, strict=True)]
        # Ties go to less context (cheaper prompts), then to the earlier candidate.
        best = max(range(len(candidates)), key=lambda i: (all_scores[i], -candidates[i].config["context_tokens"],
                                                           -candidates[i].config["k"], -i))
        return Selection(candidates[best], table, list(self.notes))

    # ---- the record -----------------------------------------------------------------------

    def fixes_in_run(self) -> Fixes:
        """Documents retrieved: knowledge; dynamic few-shot (training examples) fixes behaviour."""
        return "knowledge" if self.mode == "documents" else "behaviour"

    def record_sections(
        self, ctx: RunContext, selection: Selection, results: Sequence[ItemResult]
    ) -> RungSections:
        """The record's ``retrieval`` section: mode, index, the chosen k and budget, and quality."""
        test = ctx.split.test
        chosen = selection.chosen.config
        section: dict[str, Any] = {"mode": self.mode, "k": chosen["k"], "context_tokens": chosen["context_tokens"]}
        if self.mode == "documents" and self.info is not None:
            cfg = ctx.task.rungs.L3
            section["index"] = self.info.to_dict()
            section["retrieval"] = cfg.retrieval
            section["mmr"] = cfg.mmr
            rankings = self.hits(ctx, [ex.input for ex in test])
            section["quality"] = retrieval_quality(ctx.task, test, rankings, chosen["k"])
            # Retrieval needs no model, so every labelled example (any split) can measure it too.
            everyone = ctx.split.train + ctx.split.validation + test
            labelled = [ex for ex in everyone if ex.meta.get("metadata", {}).get("sources")]
            if labelled:
                section["quality_all_labelled"] = retrieval_quality(
                    ctx.task, labelled, self.hits(ctx, [ex.input for ex in labelled]), chosen["k"]
                )
            section["items"] = {
                ex.id: [h.chunk.id for h in hits[: chosen["k"]]] for ex, hits in zip(test, rankings, strict=True)
            }
        return RungSections(retrieval=RetrievalSection.model_validate(section))


def render_context(hits: list[Hit], budget: int, count: Callable[[str], int]) -> str:
    """Source-tagged chunks, best first, skipping any that would overflow the token budget."""
    blocks: list[str] = []
    used = count(CONTEXT_HEADER)
    for h in hits:
        title = f" ({h.chunk.section})" if h.chunk.section else ""
        block = f"[{h.chunk.id}]{title}\n{h.chunk.text.strip()}"
        cost = count(block) + 2
        if used + cost > budget:
            continue
        blocks.append(block)
        used += cost
    return CONTEXT_HEADER + "\n\n" + "\n\n".join(blocks) if blocks else ""


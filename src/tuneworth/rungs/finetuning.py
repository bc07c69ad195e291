"""L4 fine-tuning: train on the train split, keep the checkpoint with the best validation loss,
then score the fine-tuned model on the same test items as L1-L3.

Local models (``local/...``) get a LoRA adapter from ``finetune.local``; API models get a fine-tuning
job through the official SDK (``finetune.remote``). The climb asks the rung for the model it is scored
with (``prepare_model``), so L4's answers come from the fine-tuned model while the rung itself, like
every rung, only ever sees validation scores. An adapter already trained from the same base, data and
hyperparameters is reused rather than trained again.

Like for like with L1/L2: the fine-tuned model is scored on validation with each decoding the climb
tries (free, and label scoring or schema-guided decoding / Structured Outputs as the task allows),
re-planned for the fine-tuned model's own provider; the best goes to test and the record notes it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuneworth.record.schema import ItemResult, TrainingSection
from tuneworth.rungs.base import ProgressLike, RunContext, Rung, RungSections, ScoreFn, Selection, Strategy

REMOTE_JOB = "l4_remote_job.json"
"""In the run directory: the remote fine-tuning job a crashed or interrupted climb re-attaches to."""


def hyperparameters(ctx: RunContext) -> Any:
    from tuneworth.finetune.hyper import Hyperparameters

    c = ctx.task.rungs.L4
    return Hyperparameters(
        n_epochs=c.n_epochs,
        batch_size=c.batch_size,
        learning_rate_multiplier=c.learning_rate_multiplier,
        lora_r=c.lora_r,
        lora_alpha=c.lora_alpha,
        target_modules=c.target_modules,
        lora_layers=c.lora_layers,
        max_length=c.max_length,
        seed=ctx.task.seed,
        eval_every=c.eval_every,
        early_stopping_patience=c.early_stopping_patience,
    )


def write_files(ctx: RunContext, directory: Path) -> tuple[Path, Path]:
    from tuneworth.finetune.prepare import chat_line, write_jsonl

    train, valid = directory / "train.jsonl", directory / "validation.jsonl"
    write_jsonl(train, [chat_line(ctx.task, ex) for ex in ctx.split.train])
    write_jsonl(valid, [chat_line(ctx.task, ex) for ex in ctx.split.validation])
    return train, valid


class FineTuningRung(Rung):
    name = "L4"
    title = "L4 fine-tuning"
    fixes = "behaviour"
    trains = True
    cost_class = "training"
    order = 4

    def __init__(self) -> None:
        self._base: Any = None  # the model before training (the learning curve trains it again)
        self._progress: ProgressLike | None = None
        self._tuned: Any = None
        self.model_spec: str | None = None
        self.training: dict[str, Any] = {}
        self._decodings: list[str] | None = None  # planned for the fine-tuned model (prepare_model)
        self.skipped: list[dict[str, str]] = []

    def decodings(self, ctx: RunContext) -> list[str]:
        return self._decodings or ctx.decodings

    def planned_candidates(self, ctx: RunContext) -> int:
        return len(self.decodings(ctx))

    def prepare_model(self, ctx: RunContext, model: Any, progress: ProgressLike | None = None) -> Any:
        """Fine-tune (or reuse) and return the ``Model`` the rung is scored with.

        The base model, and so the backend (local LoRA or a remote job), is L4's own model spec
        (``model.rungs.L4``, else ``model.name``), never the main model's when they differ."""
        from tuneworth.providers.model import Model
        from tuneworth.providers.registry import resolve_provider, split_name

        task = ctx.task
        base_spec = task.model.for_rung(self.name)
        # The task as L4 sees it: its own model spec (base URL, key and timeout as configured).
        l4_task = task.model_copy(update={"model": task.model.model_copy(update={"name": base_spec, "rungs": {}})})
        self._base, self._progress = model, progress
        spec = task.rungs.L4.model or (model.model_id if split_name(model.model_id)[1].startswith("ft:") else None)
        if spec is None:
            provider, base = split_name(base_spec)
            with tempfile.TemporaryDirectory(prefix="tuneworth-l4-") as tmp:
                train, valid = write_files(ctx, Path(tmp))
                if provider == "local":
                    spec, self.training = self._train_local(ctx, base, train, valid, progress)
                else:
                    from tuneworth.finetune.remote import run_job

                    job_file = ctx.run_dir / REMOTE_JOB if ctx.run_dir is not None else None
                    spec, self.training = run_job(
                        l4_task, base, train, valid, hyperparameters(ctx), progress, job_file=job_file
                    )
        else:
            self.training = {"model_id": spec, "trained": False, "note": "scored an existing model"}
        self.model_spec = spec
        if spec != model.model_id:
            model = Model(
                resolve_provider(spec, l4_task.model), batch_size=task.model.batch_size, cache=model.cache
            )
        self._plan_decodings(ctx, model)
        self._tuned = model
        return model

    def _plan_decodings(self, ctx: RunContext, model: Any) -> None:
        """The decodings the climb tries, as far as the fine-tuned model's provider can do them."""
        from tuneworth.decoding.plan import plan_decodings

        if ctx.decodings == ["free"]:
            self._decodings, self.skipped = ["free"], []
            return
        plan = plan_decodings(ctx.task, ctx.schema, model.provider)
        self._decodings = plan.modes
        self.skipped = plan.skipped

    def _train_local(
        self, ctx: RunContext, base: str, train: Path, valid: Path, progress: Any
    ) -> tuple[str, dict[str, Any]]:
        from tuneworth.finetune.local import train_lora
        from tuneworth.finetune.store import find_adapter

        hp = hyperparameters(ctx)
        found = find_adapter(base, train, valid, hp)
        if found is not None:
            return f"local/{found['model_id']}", {**training_section(found), "reused": True}
        started = [False]

        def on_event(e: Any) -> None:
            if progress is None:
                return
            if e.total_steps and not started[0]:
                progress.start("L4 training", e.total_steps)
                started[0] = True
            if e.kind == "step":
                progress.advance(1)
            note = getattr(progress, "note", None)
            if note is not None and e.train_loss is not None:
                vl = "" if e.valid_loss is None else f" · valid {e.valid_loss:.3f}"
                note(f"L4 training · loss {e.train_loss:.3f}{vl}")

        try:
            result = train_lora(base, train, valid, hp, suffix=ctx.task.rungs.L4.suffix, on_event=on_event)
        finally:
            if progress is not None and started[0]:
                progress.stop()
        from tuneworth.finetune.store import read_meta

        return f"local/{result.model_id}", {**training_section(read_meta(result.model_id)), "reused": False}

    def strategy(self, ctx: RunContext) -> Strategy:
        from tuneworth.finetune.prepare import l4_system

        assert self.model_spec is not None, "prepare_model runs before select"
        return Strategy(self.name, {"model": self.model_spec}, l4_system(ctx.task), ctx.task.model.max_tokens)

    def candidates(self, ctx: RunContext) -> list[Strategy]:
        """The fine-tuned model's prompt under each planned decoding (free first when planned)."""
        from tuneworth.decoding.plan import with_decoding

        base = self.strategy(ctx)
        modes = self._decodings or ["free"]
        return [base if m == "free" else with_decoding(base, m, ctx.labels, ctx.schema) for m in modes]

    def select(self, ctx: RunContext, score: ScoreFn) -> Selection:
        candidates = self.candidates(ctx)
        scores = score(candidates)
        table = [{"config": s.config, "score": sc} for s, sc in zip(candidates, scores, strict=True)]
        # Ties go to the earlier candidate (free decoding, as trained).
        best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
        notes = [f"decoding {s['mode']} skipped for {self.model_spec}: {s['reason']}" for s in self.skipped]
        if len(candidates) > 1:
            notes.append(f"decodings compared: {', '.join(s.decoding for s in candidates)}")
        return Selection(candidates[best], table, notes=notes)

    def record_sections(
        self, ctx: RunContext, selection: Selection, results: Sequence[ItemResult]
    ) -> RungSections:
        """The record's ``training`` section (time, trained tokens, adapter metadata), with the
        learning curve when ``rungs.L4.learning_curve`` is on (its 100 % point is this rung's run)."""
        training = TrainingSection.model_validate(self.training)
        if ctx.task.rungs.L4.learning_curve and training.trained:
            from tuneworth.finetune.curve import curve_point, learning_curve

            full = curve_point(ctx, 1.0, self, results, tuned=self._tuned)
            training.learning_curve = learning_curve(
                ctx.task, self._base, split=ctx.split, progress=self._progress, full=full
            )
        return RungSections(training=training)


def training_section(meta: dict[str, Any]) -> dict[str, Any]:
    """The run record's ``training`` section from an adapter's metadata."""
    return {
        "model_id": meta["model_id"],
        "trained": True,
        "where": "local",
        "base_model": meta["base_model"],
        "seconds": meta["seconds"],
        "trained_tokens": meta["trained_tokens"],
        "hyperparameters": meta["hyperparameters"],
        "metrics": meta["metrics"],
        "best": meta.get("best"),
        "checkpoints": meta.get("checkpoints", []),
        "dropped": meta.get("data", {}).get("dropped", []),
        "stopped_early": meta.get("stopped_early", False),
    }

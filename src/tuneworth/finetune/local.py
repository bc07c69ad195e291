"""The local LoRA trainer: ``train_lora(base, train.jsonl, validation.jsonl, hp) -> TrainResult``.

A plain PEFT loop, chosen over transformers' Trainer for speed and control: each step's examples are
packed into one padding-free row (``packing.py``), the LM head and the loss run only on the positions
that predict assistant tokens (the head over a 49k vocabulary is a quarter of a small model's FLOPs),
and the validation loss is computed every epoch (and every ``eval_every`` steps) to keep the best
checkpoint and stop early. Checkpoints in ``work_dir`` make an interrupted run resumable; the finished
adapter is registered atomically in the store as ``ft:<base>:<suffix>:<id>``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tuneworth.errors import ConfigError, DatasetError, TrainingCancelled
from tuneworth.finetune import checkpoint as ckpt
from tuneworth.finetune.data import EncodedSet, encode, file_fingerprint, load_chat_jsonl
from tuneworth.finetune.hyper import MIN_TRAIN_EXAMPLES, Hyperparameters
from tuneworth.finetune.packing import pack, step_groups
from tuneworth.paths import home

ROW_TOKENS = 384
"""A step's examples are packed into rows of about this many tokens (gradients accumulate over the
rows of one step; examples are never split). Attention inside a packed row costs ~row length^2
whatever the per-example mask, so short rows waste less; a few hundred tokens keeps the matrix
products large enough to run at full speed on a CPU."""


@dataclass
class TrainEvent:
    """Streamed while training."""

    kind: Literal["message", "step", "epoch", "checkpoint"]
    message: str
    step: int = 0
    total_steps: int = 0
    train_loss: float | None = None
    valid_loss: float | None = None
    checkpoint_dir: str | None = None


@dataclass
class TrainResult:
    model_id: str
    adapter_dir: Path
    trained_tokens: int
    seconds: float
    metrics: dict[str, float]
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    dropped: list[dict[str, int]] = field(default_factory=list)


def _device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_base(base_dir: Path) -> tuple[Any, Any]:
    """A fresh fp32 copy of the base model (training mutates it) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    return model.to(_device()), tok


def rows(examples: list[Any], budget: int) -> list[list[Any]]:
    """Split one step's examples, in order, into the fewest packed rows of about ``budget`` tokens,
    balanced (each example goes to the row its midpoint falls in), so no row is left nearly empty."""
    total = sum(len(ex.ids) for ex in examples)
    k = max(1, math.ceil(total / budget))
    share = total / k
    out: list[list[Any]] = [[] for _ in range(k)]
    used = 0
    for ex in examples:
        out[min(k - 1, int((used + len(ex.ids) / 2) // share))].append(ex)
        used += len(ex.ids)
    return [row for row in out if row]


def loss_sum(model: Any, batch: Any) -> Any:
    """Summed cross-entropy over the packed row's trained tokens (LM head only where needed)."""
    import torch.nn.functional as F

    base = model.get_base_model()
    backbone = getattr(base, base.base_model_prefix)
    hidden = backbone(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False)
    h = hidden.last_hidden_state[0, batch.target_index]
    logits = base.get_output_embeddings()(h).float()
    return F.cross_entropy(logits, batch.targets, reduction="sum")


def evaluate(model: Any, data: EncodedSet, budget: int = ROW_TOKENS) -> float | None:
    """Mean loss per trained token over a data set (None without data)."""
    import torch

    if not data.examples:
        return None
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for group in rows(data.examples, budget):
            batch = pack(group, _device())
            if batch.targets.numel():
                total += float(loss_sum(model, batch))
                count += int(batch.targets.numel())
    model.train()
    return total / max(1, count)


def _fingerprint(
    base_model: str, train: Path, validation: Path | None, hp: Hyperparameters
) -> dict[str, Any]:
    return {
        "base_model": base_model,
        "train": file_fingerprint(train),
        "validation": file_fingerprint(validation) if validation else None,
        "hyperparameters": hp.to_dict(),
    }


def default_work_dir(fingerprint: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]
    return home() / "finetune-work" / digest


def train_lora(
    base_model: str,
    train_file: Path,
    validation_file: Path | None,
    hp: Hyperparameters,
    *,
    suffix: str | None = None,
    work_dir: Path | None = None,
    on_event: Callable[[TrainEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune ``base_model`` (bundled name or HF directory) with LoRA; register and return the adapter."""
    from tuneworth.providers.local.provider import model_dir

    emit = on_event or (lambda e: None)
    base_dir = model_dir(base_model)
    train_file, validation_file = Path(train_file), Path(validation_file) if validation_file else None
    model, train, valid = _load_data(base_dir, train_file, validation_file, hp.max_length, emit)
    requested = hp.to_dict()
    hp = hp.resolve(len(train.examples))
    fingerprint = _fingerprint(base_model, train_file, validation_file, hp)
    work = Path(work_dir) if work_dir else default_work_dir(fingerprint)
    ckpt.claim(work, fingerprint)
    run = _Run(_peft(model, hp, base_model), hp, train, valid, work, emit)
    run.resume()
    emit(
        TrainEvent(
            "message",
            f"training {len(train.examples)} examples ({train.tokens} tokens) x "
            f"{hp.n_epochs} epochs, batch {hp.batch_size}, lr {hp.learning_rate:g}: {run.total} steps",
            total_steps=run.total,
        )
    )
    step = run.loop(should_stop)
    meta = {
        "base_model": base_model,
        "base_dir": str(base_dir),
        "hyperparameters": hp.to_dict(),
        "fingerprint": fingerprint,
        "requested_hyperparameters": requested,
        "data": {
            "train_file": str(train_file),
            "validation_file": str(validation_file or ""),
            "train_examples": len(train.examples),
            "validation_examples": len(valid.examples),
            "dropped": train.dropped,
            "validation_dropped": valid.dropped,
        },
    }
    return run.register(base_model, suffix, step, meta)


def _load_data(
    base_dir: Path, train_file: Path, validation_file: Path | None, max_length: int, emit: Callable[[TrainEvent], None]
) -> tuple[Any, EncodedSet, EncodedSet]:
    """The base model and the encoded training and validation sets; over-length examples reported."""
    train_raw = load_chat_jsonl(train_file)
    _check_count(len(train_raw), train_file, "")
    valid_raw = load_chat_jsonl(validation_file) if validation_file else []
    model, tok = load_base(base_dir)
    train = encode(tok, train_raw, max_length)
    valid = encode(tok, valid_raw, max_length)
    for name, data in (("training", train), ("validation", valid)):
        if data.dropped:
            lines = ", ".join(str(d["line"]) for d in data.dropped[:20])
            emit(
                TrainEvent(
                    "message",
                    f"{len(data.dropped)} {name} example(s) are longer than max_length="
                    f"{max_length} tokens and were dropped (lines {lines}"
                    f"{', ...' if len(data.dropped) > 20 else ''}); raise max_length to keep them",
                )
            )
    _check_count(len(train.examples), train_file, f" after dropping {len(train.dropped)} over max_length")
    return model, train, valid


def _peft(model: Any, hp: Hyperparameters, base_model: str) -> Any:
    """The base model wrapped with LoRA adapters (seeded), or a ConfigError when the targets do not fit."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(hp.seed)
    lora = LoraConfig(
        r=hp.lora_r,
        lora_alpha=hp.lora_alpha,
        lora_dropout=hp.lora_dropout,
        target_modules=hp.targets,
        task_type="CAUSAL_LM",
        **_layer_range(model, hp.lora_layers),
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as e:
        raise ConfigError(
            f"LoRA target modules {hp.targets} do not fit {base_model}: {e}",
            hint="set target_modules to names of linear layers in this model",
        ) from None


class _Run:
    """One training run: the optimizer, schedule and resumable state around a PEFT model."""

    def __init__(
        self, model: Any, hp: Hyperparameters, train: EncodedSet, valid: EncodedSet, work: Path,
        emit: Callable[[TrainEvent], None],
    ) -> None:
        import torch

        self.model, self.hp, self.train, self.valid, self.work, self.emit = model, hp, train, valid, work, emit
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.steps_per_epoch = math.ceil(len(train.examples) / int(hp.batch_size))
        self.total = total = self.steps_per_epoch * int(hp.n_epochs)
        warmup = max(1, round(0.05 * total))
        self.opt = torch.optim.AdamW(self.params, lr=hp.learning_rate, weight_decay=0.0)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: min((s + 1) / warmup, max(0.1, (total - s) / max(1, total - warmup)))
        )
        self.state: dict[str, Any] = {
            "step": 0,
            "history": [],
            "best": None,
            "stale": 0,
            "trained_tokens": 0,
            "seconds": 0.0,
            "stopped_early": False,
        }
        self.t_mark = time.time()
        self.window = [0.0, 0]  # loss x targets, targets since the last evaluation
        self.epoch = [0.0, 0]  # the same since the start of the epoch

    def resume(self) -> None:
        """Continue from the latest checkpoint in the work directory, if there is one."""
        import torch
        from peft import set_peft_model_state_dict

        resumed = ckpt.load_latest(self.work)
        if not resumed:
            return
        weights, optim, self.state = resumed
        set_peft_model_state_dict(self.model, weights)
        self.opt.load_state_dict(optim["optimizer"])
        self.sched.load_state_dict(optim["scheduler"])
        torch.set_rng_state(optim["rng"])
        step = self.state["step"]
        self.emit(
            TrainEvent("message", f"resuming from checkpoint at step {step}/{self.total} in {self.work}", step=step, total_steps=self.total)
        )

    def weights(self) -> dict[str, Any]:
        from peft import get_peft_model_state_dict

        return dict(get_peft_model_state_dict(self.model))

    def checkpoint(self, step: int, train_loss: float | None) -> None:
        """Validation loss, best-so-far weights, and a resumable checkpoint at ``step``."""
        import torch

        state, work = self.state, self.work
        valid_loss = evaluate(self.model, self.valid)
        state["seconds"] = state.get("seconds", 0.0) + (time.time() - self.t_mark)
        self.t_mark = time.time()
        entry = {"step": step, "train_loss": train_loss, "valid_loss": valid_loss}
        best = state["best"]
        if valid_loss is not None and (best is None or valid_loss < best["valid_loss"]):
            state["best"] = {"step": step, "valid_loss": valid_loss}
            state["stale"] = 0
            ckpt.save_best(work, self.weights(), state["best"])
        elif valid_loss is not None:
            state["stale"] += 1
        state["step"] = step
        path = ckpt.save(
            work,
            step,
            self.weights(),
            {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "rng": torch.get_rng_state()},
            {**state, "history": [*state["history"], {**entry, "dir": str(work / f"checkpoint-{step}")}]},
        )
        state["history"].append({**entry, "dir": str(path)})
        vl = "n/a" if valid_loss is None else f"{valid_loss:.4f}"
        tl = "n/a" if train_loss is None else f"{train_loss:.4f}"
        self.emit(
            TrainEvent(
                "checkpoint",
                f"step {step}/{self.total}: train loss {tl}, validation loss {vl}",
                step=step,
                total_steps=self.total,
                train_loss=train_loss,
                valid_loss=valid_loss,
                checkpoint_dir=str(path),
            )
        )

    def loop(self, should_stop: Callable[[], bool] | None) -> int:
        """Train to the last step (or early stop); checkpoint on cancel and interrupt. The last step."""
        self.t_mark = time.time()
        self.model.train()
        step = self.state["step"]
        try:
            while step < self.total and not self.state.get("stopped_early"):
                epoch, offset = divmod(step, self.steps_per_epoch)
                for group in step_groups(len(self.train.examples), int(self.hp.batch_size), self.hp.seed, epoch)[offset:]:
                    if should_stop and should_stop():
                        self.checkpoint(step, None)
                        raise TrainingCancelled(
                            f"training cancelled at step {step}/{self.total}",
                            hint=f"run the same command again to resume from {self.work}",
                        )
                    loss, n_targets = self._step(group)
                    step += 1
                    if self._after_step(step, loss, n_targets):
                        break
        except KeyboardInterrupt:
            if step > self.state["step"]:
                self.checkpoint(step, None)
            raise
        if self.state["step"] != step:
            self.checkpoint(step, None)
        return step

    def _step(self, group: list[int]) -> tuple[float, int]:
        """One optimizer step over the examples in ``group``: (mean loss per target, targets)."""
        import torch

        examples = [self.train.examples[i] for i in group]
        n_targets = sum(max(0, sum(e.mask[1:])) for e in examples)
        self.opt.zero_grad(set_to_none=True)
        step_loss = 0.0
        for row in rows(examples, ROW_TOKENS):
            batch = pack(row, _device())
            if not batch.targets.numel():
                continue
            loss = loss_sum(self.model, batch) / max(1, n_targets)
            loss.backward()
            step_loss += float(loss.detach())
            self.state["trained_tokens"] += batch.tokens
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.sched.step()
        return step_loss, n_targets

    def _after_step(self, step: int, step_loss: float, n_targets: int) -> bool:
        """Report the step; evaluate at the end of an epoch (and every ``eval_every``). True: stop early."""
        total, hp = self.total, self.hp
        for acc in (self.window, self.epoch):
            acc[0] += step_loss * n_targets
            acc[1] += n_targets
        self.emit(TrainEvent("step", f"step {step}/{total} loss {step_loss:.4f}", step=step, total_steps=total, train_loss=step_loss))
        end_of_epoch = step % self.steps_per_epoch == 0
        if not (end_of_epoch or (hp.eval_every and step % hp.eval_every == 0)):
            return False
        train_loss = self.window[0] / max(1, int(self.window[1]))
        self.window[:] = [0.0, 0]
        if end_of_epoch:
            self.state["last_epoch_train_loss"] = self.epoch[0] / max(1, int(self.epoch[1]))
            self.epoch[:] = [0.0, 0]
        self.checkpoint(step, train_loss)
        if end_of_epoch:
            self.emit(
                TrainEvent(
                    "epoch",
                    f"epoch {step // self.steps_per_epoch}/{hp.n_epochs} done",
                    step=step,
                    total_steps=total,
                    train_loss=train_loss,
                    valid_loss=self.state["history"][-1]["valid_loss"],
                )
            )
        patience = hp.early_stopping_patience
        if patience and self.state["stale"] >= patience and step < total:
            self.state["stopped_early"] = True
            self.emit(
                TrainEvent(
                    "message",
                    f"early stopping at step {step}: validation loss has not improved for {patience} evaluations",
                    step=step,
                    total_steps=total,
                )
            )
            return True
        return False

    def register(self, base_model: str, suffix: str | None, step: int, meta: dict[str, Any]) -> TrainResult:
        """Load the best weights, measure, and register the adapter in the store."""
        from peft import set_peft_model_state_dict

        from tuneworth.finetune import store

        state = self.state
        best = ckpt.load_best(self.work) if state["best"] else None
        if best is not None:
            set_peft_model_state_dict(self.model, best)
        final_valid = evaluate(self.model, self.valid)
        seconds = state.get("seconds", 0.0)
        metrics: dict[str, float] = {
            "steps": float(step),
            "epochs": step / self.steps_per_epoch,
            "train_examples": float(len(self.train.examples)),
            "dropped_examples": float(len(self.train.dropped)),
            "tokens_per_second": state["trained_tokens"] / max(seconds, 1e-9),
        }
        if state.get("last_epoch_train_loss") is not None:
            metrics["train_loss"] = state["last_epoch_train_loss"]
        if final_valid is not None:
            metrics["valid_loss"] = final_valid
        model_id = store.new_model_id(base_model, suffix)
        meta = {
            "model_id": model_id,
            **meta,
            "metrics": metrics,
            "best": state["best"],
            "checkpoints": state["history"],
            "trained_tokens": state["trained_tokens"],
            "seconds": round(seconds, 2),
            "stopped_early": bool(state.get("stopped_early")),
            "created_at": time.time(),
        }

        def write(tmp: Path) -> None:
            self.model.save_pretrained(str(tmp), safe_serialization=True)

        path = store.register(model_id, write, meta)
        self.emit(TrainEvent("message", f"registered {model_id} ({path})", step=step, total_steps=self.total))
        hp = self.hp.to_dict()
        return TrainResult(model_id, path, state["trained_tokens"], round(seconds, 2), metrics, state["history"], hp, self.train.dropped)


def _layer_range(model: Any, last: int | None) -> dict[str, Any]:
    """PEFT arguments restricting LoRA to the last ``last`` layers (nothing when None or all)."""
    n = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if last is None or n == 0 or last >= n:
        return {}
    return {"layers_to_transform": list(range(n - last, n))}


def _check_count(n: int, path: Path, why: str) -> None:
    if n < MIN_TRAIN_EXAMPLES:
        raise DatasetError(
            f"{n} training examples{why}: fine-tuning needs at least {MIN_TRAIN_EXAMPLES} (OpenAI's minimum)",
            path=str(path),
            hint="add examples (50-100 is a good start), or stay with prompting / few-shot",
        )

"""Fine-tuning hyperparameters, named as OpenAI names them, each a number or ``"auto"``.

``resolve(n_train)`` replaces every ``"auto"`` from the data size, the way OpenAI describes its
defaults: about 3 epochs, more for tiny sets (so the model sees ~100 examples at least) and fewer for
huge ones; small batches for small sets. The learning rate is ``learning_rate_multiplier`` x a LoRA
base rate (OpenAI's multiplier scales its own, unpublished, base rate; ours is ``BASE_LEARNING_RATE``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from tuneworth.errors import ConfigError

BASE_LEARNING_RATE = 2e-4
"""LoRA learning rate for ``learning_rate_multiplier = 1``."""
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_TRAIN_EXAMPLES = 10
"""OpenAI refuses fine-tuning jobs with fewer examples; so do we."""
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

Auto = Literal["auto"]


@dataclass
class Hyperparameters:
    """OpenAI names; each ``"auto"`` or a number. LoRA and run settings follow."""

    n_epochs: int | Auto = "auto"
    batch_size: int | Auto = "auto"
    learning_rate_multiplier: float | Auto = "auto"
    lora_r: int = 8
    lora_alpha: int = 16
    target_modules: list[str] | None = None
    max_length: int = 512
    seed: int = 0
    eval_every: int | None = None
    """Also compute the validation loss every N optimizer steps (always at the end of each epoch)."""
    early_stopping_patience: int | None = 2
    """Stop after this many validation losses in a row without improvement (None: never)."""
    lora_dropout: float = 0.0
    lora_layers: int | None = None
    """LoRA on the last N transformer layers only (None: all). The layers below get no adapter and no
    gradient, so backpropagation stops at the lowest adapted layer: a large saving on a CPU."""

    def __post_init__(self) -> None:
        for name in ("n_epochs", "batch_size", "learning_rate_multiplier"):
            value = getattr(self, name)
            if value == "auto":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f'hyperparameter {name} = {value!r} must be a positive number or "auto"',
                    hint=f'e.g. {name} = "auto"',
                )
            if name != "learning_rate_multiplier" and int(value) != value:
                raise ConfigError(f"hyperparameter {name} = {value!r} must be a whole number")
        if self.lora_r < 1 or self.lora_alpha < 1:
            raise ConfigError("lora_r and lora_alpha must be at least 1")
        if self.lora_layers is not None and self.lora_layers < 1:
            raise ConfigError(
                f"lora_layers = {self.lora_layers} must be at least 1 (or unset for all layers)"
            )
        if self.max_length < 8:
            raise ConfigError(f"max_length = {self.max_length} is too short", hint="use 256-2048 tokens")

    def resolve(self, n_train: int) -> Hyperparameters:
        """A copy with every ``"auto"`` replaced by a number chosen from ``n_train``."""
        n = max(1, n_train)
        epochs = self.n_epochs
        if epochs == "auto":
            epochs = 3
            if n * epochs < MIN_TARGET_EXAMPLES:
                epochs = min(25, math.ceil(MIN_TARGET_EXAMPLES / n))
            elif n * epochs > MAX_TARGET_EXAMPLES:
                epochs = max(1, MAX_TARGET_EXAMPLES // n)
        batch = self.batch_size
        if batch == "auto":
            # Small sets want many updates; larger ones larger batches (one per ~50 examples, at most 16).
            batch = min(16, max(1, n // 50))
        lr = self.learning_rate_multiplier
        if lr == "auto":
            lr = 1.0
        return replace(self, n_epochs=int(epochs), batch_size=int(batch), learning_rate_multiplier=float(lr))

    @property
    def learning_rate(self) -> float:
        if self.learning_rate_multiplier == "auto":
            raise ConfigError("resolve() the hyperparameters before asking for the learning rate")
        return BASE_LEARNING_RATE * float(self.learning_rate_multiplier)

    @property
    def targets(self) -> list[str]:
        return list(self.target_modules or DEFAULT_TARGETS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hyperparameters:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown hyperparameter(s): {', '.join(unknown)}",
                hint=f"known: {', '.join(sorted(known))}",
            )
        return cls(**data)

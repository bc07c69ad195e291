"""LoRA adapters over one shared base model, switched per batch, the least recently used dropped first.

The first fine-tuned model of a base wraps the already-loaded base in a ``PeftModel``; PEFT injects
the LoRA layers into the base's own modules, so every adapter costs only its LoRA weights and the
base provider's generation code (batching, prefix reuse) serves them all. Before each batch the
requested adapter is made active, or all adapters are disabled for the plain base. Each model keeps
its own prefix-KV cache (a prefix computed with one adapter is wrong for another). All generation
runs on the batcher's one thread, so switching never races a forward pass.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from tuneworth.providers.base import ChatRequest, Completion


class SharedBase:
    """One loaded base model (a ``LocalProvider``) and the adapters loaded over it."""

    def __init__(self, provider: Any, *, max_adapters: int = 4) -> None:
        self.provider = provider
        self.max_adapters = max_adapters
        self.peft: Any = None
        self.adapters: OrderedDict[str, Path] = OrderedDict()
        self.prefillers: dict[str | None, Any] = {None: provider.prefiller}

    def _safe_name(self, model_id: str) -> str:
        return model_id.replace(":", "_").replace(".", "_")

    def ensure(self, model_id: str, adapter_dir: Path) -> None:
        """Load the adapter if it is not loaded (evicting the least recently used one past the limit)."""
        name = self._safe_name(model_id)
        if model_id in self.adapters:
            self.adapters.move_to_end(model_id)
            return
        if self.peft is None:
            from peft import PeftModel

            self.peft = PeftModel.from_pretrained(self.provider.model, str(adapter_dir), adapter_name=name)
            self.peft.eval()
        else:
            self.peft.load_adapter(str(adapter_dir), adapter_name=name)
        self.adapters[model_id] = adapter_dir
        while len(self.adapters) > self.max_adapters:
            old, _ = self.adapters.popitem(last=False)
            self.peft.set_adapter(name)  # the one being deleted must not be the active one
            self.peft.delete_adapter(self._safe_name(old))
            self.prefillers.pop(old, None)

    @contextmanager
    def active(self, model_id: str | None) -> Iterator[None]:
        if self.peft is None:
            yield
            return
        if model_id is None:
            with self.peft.disable_adapter():
                yield
            return
        self.peft.set_adapter(self._safe_name(model_id))
        yield

    def generate(
        self, model_id: str | None, requests: Sequence[ChatRequest], on_text: Callable[[list[str]], None] | None = None
    ) -> list[Completion]:
        if model_id not in self.prefillers:
            from tuneworth.providers.local.prefill import Prefiller

            self.prefillers[model_id] = Prefiller(self.provider.model, self.provider.tokenizer.pad_token_id)
        self.provider.prefiller = self.prefillers[model_id]
        with self.active(model_id) if self.peft is not None else nullcontext():
            if on_text is None:
                return list(self.provider.generate(requests))
            return list(self.provider.generate(requests, on_text=on_text))


class Served:
    """What the batcher calls: one model id over its shared base."""

    def __init__(self, base: SharedBase, model_id: str | None) -> None:
        self.base = base
        self.model_id = model_id

    def generate(
        self, requests: Sequence[ChatRequest], *, on_text: Callable[[list[str]], None] | None = None
    ) -> list[Completion]:
        return self.base.generate(self.model_id, requests, on_text)

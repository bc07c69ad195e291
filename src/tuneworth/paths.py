"""Every ``TUNEWORTH_*`` setting, read in one place, typed and documented; and the per-process state
that the model cache and the caches share.

Nothing else in the package reads ``os.environ`` for a ``TUNEWORTH_*`` name: it calls a function here,
so each variable's default, parsing and error message live once. Values are read when asked for (never
cached at import), so a test's ``monkeypatch.setenv`` takes effect. Precedence stays CLI flag >
environment > task file > default: callers pass their flag first and fall back to these.

===========================  ===========================================================================
variable                     meaning (default)
===========================  ===========================================================================
``TUNEWORTH_HOME``           caches, converted models, adapters, indexes (``~/.cache/tuneworth``)
``TUNEWORTH_CACHE``          ``0``/``off``/``false``/``no`` turns the completion and embedding caches off
``TUNEWORTH_AUDIT``          ``off`` or ``cheap`` (no embeddings) overrides ``audit.enabled`` in a climb
``TUNEWORTH_DATA_DIR``       ``tuneworth serve``'s files, jobs and models (``$XDG_DATA_HOME/tuneworth/serve``)
``TUNEWORTH_API_KEY``        the key ``tuneworth serve`` requires when ``--api-key`` is not given
``TUNEWORTH_DEBUG``          set: the CLI shows tracebacks instead of one-line errors
``TUNEWORTH_MAX_FT_MODELS``  merged fine-tuned models kept in memory per process (2)
``TUNEWORTH_MODEL``          the model (``provider/name``) over the task file's, under ``--model``
``TUNEWORTH_SEED``           the seed over the task file's, under ``--seed``
``TUNEWORTH_LOOP``           ``asyncio`` forces asyncio's event loop for API calls (else uvloop if installed)
===========================  ===========================================================================
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tuneworth.errors import ConfigError

_FALSE = frozenset({"0", "off", "false", "no"})

MODEL_LOCK = threading.Lock()
"""Held while a model is loaded into this process (converted model, merged fine-tuned model), so two
threads never load or convert the same weights at once."""


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def home() -> Path:
    """``$TUNEWORTH_HOME``, else ``~/.cache/tuneworth``: every cache and converted model lives below it."""
    return Path(_env("TUNEWORTH_HOME") or Path.home() / ".cache" / "tuneworth")


_CACHES_OFF = 0
"""How many ``caches_off()`` blocks are open."""


def caches_enabled() -> bool:
    """Whether caches are on by default: not inside ``caches_off()`` and ``TUNEWORTH_CACHE`` is not 0."""
    return not _CACHES_OFF and _env("TUNEWORTH_CACHE").lower() not in _FALSE


@contextmanager
def caches_off() -> Iterator[None]:
    """Within the block every cache that follows ``caches_enabled()`` is off: completions and
    embeddings (retrieval, audit, text metrics). What ``--no-cache`` does for one command."""
    global _CACHES_OFF
    _CACHES_OFF += 1
    try:
        yield
    finally:
        _CACHES_OFF -= 1


def audit_override() -> str | None:
    """``off`` or ``cheap`` from ``$TUNEWORTH_AUDIT``; None when it is unset or asks for nothing else."""
    raw = _env("TUNEWORTH_AUDIT").lower()
    if raw in _FALSE:
        return "off"
    return "cheap" if raw == "cheap" else None


def serve_data_dir() -> Path:
    """``$TUNEWORTH_DATA_DIR``, else the user's data directory (XDG on Linux) + ``tuneworth/serve``."""
    if env := _env("TUNEWORTH_DATA_DIR"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tuneworth" / "serve"


API_KEY_ENV = "TUNEWORTH_API_KEY"


def serve_api_key() -> str | None:
    """``$TUNEWORTH_API_KEY``: the bearer key the server requires (None: no key)."""
    return _env(API_KEY_ENV) or None


def debug() -> bool:
    """``$TUNEWORTH_DEBUG`` set (to anything but 0/off): show tracebacks."""
    raw = _env("TUNEWORTH_DEBUG").lower()
    return bool(raw) and raw not in _FALSE


MAX_FT_MODELS = 2


def max_ft_models() -> int:
    """``$TUNEWORTH_MAX_FT_MODELS`` (at least 1), else 2; a non-number is a ConfigError with the fix."""
    raw = _env("TUNEWORTH_MAX_FT_MODELS")
    try:
        return max(1, int(raw)) if raw else MAX_FT_MODELS
    except ValueError:
        raise ConfigError(
            f"$TUNEWORTH_MAX_FT_MODELS = {raw!r} is not a whole number", hint="e.g. TUNEWORTH_MAX_FT_MODELS=2"
        ) from None


def model_override() -> str | None:
    """``$TUNEWORTH_MODEL`` (``provider/name``), or None."""
    return _env("TUNEWORTH_MODEL") or None


def seed_override() -> int | None:
    """``$TUNEWORTH_SEED`` as an integer, or None; a non-integer is a ConfigError with the fix."""
    raw = _env("TUNEWORTH_SEED")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"TUNEWORTH_SEED={raw!r} is not an integer", hint="e.g. TUNEWORTH_SEED=0, or unset it") from None


def use_uvloop() -> bool:
    """False when ``$TUNEWORTH_LOOP=asyncio`` asks for asyncio's event loop."""
    return _env("TUNEWORTH_LOOP").lower() != "asyncio"

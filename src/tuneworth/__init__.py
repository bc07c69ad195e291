"""tuneworth: should we fine-tune? Climb the customization ladder on your own data and decide with evidence.

The public API is re-exported lazily so that ``import tuneworth`` stays cheap: nothing heavy
(torch, transformers, openai, pydantic) is imported until a name that needs it is touched.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Task": "tuneworth.config.task",
    "load_task": "tuneworth.config.task",
    "Example": "tuneworth.data.example",
    "load_examples": "tuneworth.data.formats",
    "ChatRequest": "tuneworth.providers.base",
    "Completion": "tuneworth.providers.base",
    "Model": "tuneworth.providers.model",
    "Provider": "tuneworth.providers.base",
    "register_provider": "tuneworth.providers.registry",
    "resolve_model": "tuneworth.providers.registry",
    "climb": "tuneworth.run.climb",
    "TuneworthError": "tuneworth.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tuneworth' has no attribute {name!r}")
    return getattr(import_module(module), name)

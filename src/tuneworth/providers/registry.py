"""Resolve ``provider/name`` strings to providers through a registry of lazy factories.

Built-in providers: ``local``, ``openai``, ``fake``. Third parties register factories under the
``tuneworth.providers`` entry-point group (or ``register``); what a factory returns must subclass
``providers.base.Provider``, whose declared capabilities the rest of the code reads. Factories import
their heavy dependencies only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from tuneworth.errors import ConfigError
from tuneworth.providers.base import Provider

if TYPE_CHECKING:
    from tuneworth.config.task import ModelConfig

Factory = Callable[[str, "ModelConfig"], Provider]

_BUILTIN = {
    "local": "tuneworth.providers.local.provider:create",
    "openai": "tuneworth.providers.openai:create",
    "fake": "tuneworth.providers.fake:create",
}
_REGISTERED: dict[str, Factory] = {}


def register(provider: str, factory: Factory) -> None:
    """Register a provider factory (third-party providers, tests)."""
    _REGISTERED[provider] = factory


register_provider = register
"""The public name (``tuneworth.register_provider``)."""


def split_name(spec: str) -> tuple[str, str]:
    provider, sep, name = spec.partition("/")
    if not sep or not provider or not name:
        raise ConfigError(
            f"model {spec!r} is not of the form provider/name",
            hint="e.g. local/smollm2-135m, openai/gpt-4o-mini, fake/echo",
        )
    return provider, name


def _factory(provider: str) -> Factory:
    if provider in _REGISTERED:
        return _REGISTERED[provider]
    target = _BUILTIN.get(provider)
    if target is None:
        from importlib.metadata import entry_points

        for ep in entry_points(group="tuneworth.providers"):
            if ep.name == provider:
                loaded: Any = ep.load()
                return loaded
        known = sorted({*_BUILTIN, *_REGISTERED})
        raise ConfigError(f"unknown model provider {provider!r}", hint=f"use one of: {', '.join(known)}")
    module, _, attr = target.partition(":")
    factory: Factory = getattr(import_module(module), attr)
    return factory


def resolve_provider(spec: str, config: ModelConfig | None = None) -> Provider:
    """Build the provider for ``spec`` (``provider/name``)."""
    from tuneworth.config.task import ModelConfig

    provider, name = split_name(spec)
    built = _factory(provider)(name, config or ModelConfig(name=spec))
    if not isinstance(built, Provider):
        raise ConfigError(
            f"the factory for provider {provider!r} returned a {type(built).__name__}, not a Provider",
            hint="subclass tuneworth.providers.base.Provider (implement generate; override the capabilities it has)",
        )
    return built


def resolve_model(spec: str, config: ModelConfig | None = None, *, cache: bool | None = None) -> Any:
    """Build a ``Model`` (the provider wrapped with caching, batching and error capture) for ``spec``.

    ``cache``: use the persistent completion cache (default: on unless ``TUNEWORTH_CACHE=0``).
    """
    from tuneworth.providers.cache import CompletionCache, enabled_by_env
    from tuneworth.providers.model import Model

    provider = resolve_provider(spec, config)
    batch = config.batch_size if config else 16
    # API providers fan a batch out over their connection pool: give them enough to keep it full.
    batch = max(batch, provider.preferred_batch_size)
    use_cache = enabled_by_env() if cache is None else cache
    return Model(provider, batch_size=batch, cache=CompletionCache() if use_cache else None)

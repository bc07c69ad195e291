from __future__ import annotations

import importlib.util

import pytest

from tuneworth.config.task import ModelConfig
from tuneworth.errors import ConfigError, MissingDependencyError
from tuneworth.providers.registry import resolve_provider, split_name


def test_missing_optional_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "aiohttp" else real(name, *a)
    )
    with pytest.raises(MissingDependencyError) as err:
        resolve_provider("openai/gpt-4o-mini", ModelConfig(name="openai/gpt-4o-mini", base_url="http://x"))
    assert "pip install 'tuneworth[openai]'" in str(err.value)


def test_model_names() -> None:
    assert split_name("openai/ft:gpt-4o-mini:org::abc") == ("openai", "ft:gpt-4o-mini:org::abc")
    with pytest.raises(ConfigError, match="provider/name"):
        split_name("smollm")
    with pytest.raises(ConfigError, match="unknown model provider 'nope'"):
        resolve_provider("nope/x")
    with pytest.raises(ConfigError, match="fake/echo"):
        resolve_provider("fake/unknown")

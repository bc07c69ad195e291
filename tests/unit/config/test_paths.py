"""tuneworth.paths: every TUNEWORTH_* setting read in one place, parsed once, with the fix on bad values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
from tuneworth import paths
from tuneworth.errors import ConfigError


def test_no_module_but_paths_reads_a_tuneworth_variable() -> None:
    # TUNEWORTH_HTTP is being removed with the hand-written HTTP client (helper "providers").
    read = re.compile(r"environ(?:\.get\(|\[)\s*[\"']TUNEWORTH_(?!HTTP)|getenv\(\s*[\"']TUNEWORTH_")
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "src" / "tuneworth").rglob("*.py")
        if p.name != "paths.py" and read.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_home_and_the_caches_follow_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path))
    assert paths.home() == tmp_path
    monkeypatch.delenv("TUNEWORTH_HOME")
    assert paths.home() == Path.home() / ".cache" / "tuneworth"
    for off in ("0", "off", "False", " no "):
        monkeypatch.setenv("TUNEWORTH_CACHE", off)
        assert not paths.caches_enabled()
    monkeypatch.setenv("TUNEWORTH_CACHE", "1")
    assert paths.caches_enabled()
    with paths.caches_off(), paths.caches_off():
        assert not paths.caches_enabled()
    assert paths.caches_enabled()


def test_overrides_parse_or_say_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEWORTH_SEED", "7")
    assert paths.seed_override() == 7
    monkeypatch.setenv("TUNEWORTH_SEED", "seven")
    with pytest.raises(ConfigError, match="TUNEWORTH_SEED='seven' is not an integer") as err:
        paths.seed_override()
    assert err.value.hint
    monkeypatch.setenv("TUNEWORTH_MAX_FT_MODELS", "0")
    assert paths.max_ft_models() == 1
    monkeypatch.setenv("TUNEWORTH_MAX_FT_MODELS", "two")
    with pytest.raises(ConfigError, match="not a whole number"):
        paths.max_ft_models()
    monkeypatch.delenv("TUNEWORTH_MAX_FT_MODELS")
    assert paths.max_ft_models() == paths.MAX_FT_MODELS
    for raw, want in (("off", "off"), ("0", "off"), ("cheap", "cheap"), ("full", None), ("", None)):
        monkeypatch.setenv("TUNEWORTH_AUDIT", raw)
        assert paths.audit_override() == want
    monkeypatch.setenv("TUNEWORTH_DEBUG", "0")
    assert not paths.debug()
    monkeypatch.setenv("TUNEWORTH_DEBUG", "1")
    assert paths.debug()
    monkeypatch.setenv("TUNEWORTH_LOOP", "asyncio")
    assert not paths.use_uvloop()

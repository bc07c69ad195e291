"""The task file (TOML) and its validated form, ``Task``.

Pydantic models with ``extra="forbid"`` (``config/base.py``; the rung sections in ``config/rungs.py``,
economics and decision in ``config/economics.py``): an unknown key is an error that names the key and the
allowed ones. Paths are resolved relative to the task file. Precedence for overridable settings is
CLI flag > environment (``TUNEWORTH_MODEL``, ``TUNEWORTH_SEED``) > task file > default.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from tuneworth.config.base import Strict as _Strict
from tuneworth.config.economics import DecisionConfig, EconomicsConfig
from tuneworth.config.rubric import load_rubric
from tuneworth.config.rungs import DecodingConfig, RungsConfig
from tuneworth.errors import ConfigError
from tuneworth.paths import model_override, seed_override

TASK_FILENAMES = ("tuneworth.toml", "task.toml")


class DataConfig(_Strict):
    path: str | None = None
    """One data file holding every example; split into train/validation/test by ``seed``."""
    train: str | None = None
    """Training examples (alternative to ``path``). Demonstrations and fine-tuning data come only from here."""
    validation: str | None = None
    """Optional validation file; otherwise carved out of train."""
    test: str | None = None
    """Optional test file; otherwise carved out of the data."""
    validation_size: float | int = 0.15
    """Fraction (0-1) or count of examples held out for choosing prompts and k."""
    test_size: float | int = 0.2
    """Fraction (0-1) or count of examples held out for the final scores."""
    stratify: str | None = None
    """Stratify splits on this JSON field (json outputs). Label outputs stratify on the label."""
    docs: str | None = None
    """Directory of reference documents, for the RAG rung."""
    production_sample: str | None = None
    """Real production queries (inputs only), for the representativeness audit."""

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.path is None) == (self.train is None):
            raise ValueError("give exactly one of data.path (one file, split by seed) or data.train")
        if self.path is not None and (self.validation or self.test):
            raise ValueError("data.validation/data.test go with data.train, not with data.path")
        return self


class PromptConfig(_Strict):
    system: str = "You are a helpful assistant."
    """The user's own system prompt: the L1 baseline."""
    variants: dict[str, str] = Field(default_factory=dict)
    """Extra hand-written system prompts to try on L1, by name."""


class OutputConfig(_Strict):
    kind: Literal["text", "label", "json"] = "text"
    """What an answer is: free text, one label from ``labels``, or a JSON object."""
    labels: list[str] | None = None
    """The label set (required for ``kind = "label"``)."""
    schema_: str | None = Field(default=None, alias="schema")
    """Path to a JSON Schema for ``kind = "json"`` answers."""

    @model_validator(mode="after")
    def _labels(self) -> OutputConfig:
        if self.kind == "label" and not self.labels:
            raise ValueError('output.kind = "label" needs output.labels = ["...", ...]')
        if self.kind != "label" and self.labels:
            raise ValueError('output.labels is only for output.kind = "label"')
        if self.kind != "json" and self.schema_:
            raise ValueError('output.schema is only for output.kind = "json"')
        if self.labels:
            seen: dict[str, str] = {}
            for label in self.labels:
                # Answers are compared case- and space-insensitively, so such labels are the same answer.
                key = " ".join(label.split()).lower()
                if not key:
                    raise ValueError("output.labels: a label is empty")
                if key in seen:
                    raise ValueError(
                        f"output.labels: {label!r} duplicates {seen[key]!r}; every label must be distinct"
                    )
                seen[key] = label
        return self


class ModelConfig(_Strict):
    name: str = "local/smollm2-135m"
    """``provider/name``: local/smollm2-135m, local/PATH, openai/gpt-4o-mini, fake/echo."""
    base_url: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, llama.cpp, tuneworth serve)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable that holds the API key."""
    max_tokens: int = Field(default=64, ge=1, le=32768)
    """Longest answer to generate (chain-of-thought gets ``rungs.L1.cot_max_tokens``)."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature; 0 is greedy and reproducible."""
    batch_size: int = Field(default=16, ge=1, le=512)
    """Local models: sequences generated together in one forward pass."""
    max_connections: int = Field(default=8, ge=1, le=1024)
    """API models: requests in flight at once."""
    timeout: float = Field(default=60.0, gt=0)
    """API models: seconds before a request is abandoned."""
    max_retries: int = Field(default=6, ge=0, le=100)
    """API models: retries per request after 408/409/429/5xx, timeouts and connection errors."""
    rungs: dict[str, str] = Field(default_factory=dict)
    """A model per rung, e.g. ``{ L4 = "local/smollm2-135m" }`` (``provider/name``); other rungs use ``name``."""

    @model_validator(mode="after")
    def _rung_names(self) -> ModelConfig:
        for rung, spec in self.rungs.items():
            if not (len(rung) == 2 and rung[0] == "L" and rung[1].isdigit()):
                raise ValueError(f"model.rungs: {rung!r} is not a rung name; use L1, L2, L3 or L4")
            if "/" not in spec.strip("/"):
                raise ValueError(f"model.rungs.{rung} = {spec!r} is not of the form provider/name")
        return self

    def for_rung(self, rung: str) -> str:
        """The model spec a rung runs on."""
        return self.rungs.get(rung, self.name)


class AuditConfig(_Strict):
    enabled: bool = True
    """``tuneworth climb`` audits the training data first and carries the result into the record."""
    near_duplicate_threshold: float = Field(default=0.95, gt=0, le=1)
    """Embedding cosine at or above which two inputs count as near-identical (duplicates, contradictions, leakage)."""
    coverage_threshold: float = Field(default=0.7, gt=0, le=1)
    """A production query is covered when some training input is at least this similar (cosine)."""
    max_example_tokens: int | None = Field(default=None, ge=1)
    """Length limit per example; default: 65536 for OpenAI models, 512 (local fine-tuning's max_length) otherwise."""
    min_examples_per_class: int = Field(default=10, ge=1)
    """Label tasks: fewer examples than this in a class is a warning."""
    embed_limit: int = Field(default=5000, ge=0)
    """``climb`` runs the embedding checks only up to this many examples (``tuneworth audit`` always does)."""
    exact_tokens_up_to: int = Field(default=20000, ge=0)
    """Token counts are exact up to this many examples; above it, a seeded sample (a tenth of this, at least 200)
    plus every example that could be over the length limit is counted exactly, and totals are labelled estimates."""
    embedding_runtime: Literal["onnx", "torch"] = "onnx"
    """How the bundled embedding model runs: ``onnx`` (ONNX Runtime, exported once from the bundled weights; the
    same fp32 vectors, cosine >= 0.999999 to torch's, faster to load and to run) or ``torch`` (sentence-transformers).
    ``onnx`` falls back to ``torch`` when onnxruntime or onnx is not installed."""


TextMetric = Literal["exact", "normalized", "token_f1", "rouge_l", "chrf", "embedding"]
TEXT_METRICS: tuple[TextMetric, ...] = ("exact", "normalized", "token_f1", "rouge_l", "chrf", "embedding")


class ScoringConfig(_Strict):
    pass_threshold: float | None = Field(default=None, ge=0, le=1)
    """A continuous score at or above this counts as a pass: summaries add a pass rate (Wilson interval)."""
    record: list[TextMetric] = Field(default_factory=lambda: list(TEXT_METRICS))
    """Text tasks: the similarity metrics recorded for every item (the primary metric always is)."""


class JudgeConfig(_Strict):
    model: ModelConfig = Field(default_factory=lambda: ModelConfig(max_tokens=48))
    """The judge model (``[judge.model]``: name, base_url, ...; any provider)."""
    mode: Literal["pointwise", "pairwise"] = "pointwise"
    """``pointwise``: a 1-5 score with a reason; ``pairwise``: the answer against the reference, A/B."""
    rubric: str | None = None
    """The rubric, inline. Pointwise rubrics give the scale: one line per score, ``1: ...`` to ``5: ...``."""
    rubric_file: str | None = None
    """The rubric in a file (instead of ``rubric``)."""
    swap: bool = True
    """Pairwise: judge both orders (answer as A, then as B) to cancel position bias."""
    decoding: Literal["auto", "choice", "text"] = "auto"
    """``auto``: label scoring over the verdict labels for local judges (always parseable), text with a
    reason for API judges; ``choice`` or ``text`` forces one."""
    calibration: str | None = None
    """JSONL of human judgements of test items: ``{"input", "output", "human"}`` (human: 1-5; pairwise
    also takes preferences of the output over the reference: "better", "tie" or "worse")."""
    min_agreement: float = Field(default=0.5, ge=-1, le=1)
    """Calibration: warn when the judge's agreement with people (Spearman; Cohen's kappa for
    preferences) is below this."""


class Task(_Strict):
    name: str
    """Short task name, used in run directory names."""
    description: str = ""
    """What the task is, for reports."""
    seed: int = 13
    """Seed for splits and random demonstrations."""
    data: DataConfig
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    metric: (
        Literal[
            "exact", "normalized", "accuracy", "field_accuracy", "object_match",
            "token_f1", "rouge_l", "chrf", "embedding", "judge",
        ]
        | None
    ) = None
    """Primary score. Default: normalized (text), accuracy (label), field_accuracy (json)."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    rungs: RungsConfig = Field(default_factory=RungsConfig)
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    economics: EconomicsConfig = Field(default_factory=EconomicsConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    """The training-data audit (``tuneworth audit``, and the first step of ``climb``)."""
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    """Pass threshold and the text metrics recorded per item."""
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    """The LLM judge, used when ``metric = "judge"``."""

    # Set by load_task, not by the file.
    base_dir: str = Field(default=".", exclude=True)
    """Directory that relative paths are resolved against (the task file's)."""

    @model_validator(mode="after")
    def _metric_fits(self) -> Task:
        allowed = {
            "text": {"exact", "normalized", "token_f1", "rouge_l", "chrf", "embedding", "judge"},
            "label": {"accuracy", "exact"},
            "json": {"field_accuracy", "object_match", "exact"},
        }[self.output.kind]
        if self.metric is not None and self.metric not in allowed:
            raise ValueError(
                f"metric {self.metric!r} does not fit output.kind {self.output.kind!r}; use one of {sorted(allowed)}"
            )
        return self

    @property
    def primary_metric(self) -> str:
        default = {"text": "normalized", "label": "accuracy", "json": "field_accuracy"}[self.output.kind]
        return self.metric or default

    def resolve(self, rel: str) -> Path:
        p = Path(rel).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def json_schema(self) -> dict[str, Any] | None:
        if not self.output.schema_:
            return None
        path = self.resolve(self.output.schema_)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"output.schema: {path} not found") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"output.schema: {path}:{e.lineno} is not valid JSON ({e.msg})") from None
        if not isinstance(schema, dict):
            raise ConfigError(f"output.schema: {path} must hold a JSON object")
        import jsonschema

        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as e:
            raise ConfigError(f"output.schema: {path} is not a valid JSON Schema ({e.message})") from None
        return schema

    def resolved_config(self) -> dict[str, Any]:
        """The fully resolved configuration, as written into every run record."""
        return self.model_dump(mode="json", by_alias=True)


def find_task_file(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        for name in TASK_FILENAMES:
            if (p / name).is_file():
                return p / name
        raise ConfigError(
            f"{p} has no task file", hint=f"create {p / TASK_FILENAMES[0]} (or run `tuneworth init {p}`)"
        )
    if not p.exists():
        raise ConfigError(
            f"{p}: no such task file or directory", hint="pass a task directory or a .toml file"
        )
    return p


def load_task(path: str | Path, *, model: str | None = None, seed: int | None = None) -> Task:
    """Read and validate a task file; apply overrides (CLI > environment > file > default)."""
    file = find_task_file(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"{file}: not valid TOML ({e})", hint="check quotes and brackets on that line"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text") from None
    model = model or model_override()
    if model:
        raw.setdefault("model", {})
        if isinstance(raw["model"], dict):
            raw["model"]["name"] = model
    env_seed = seed_override()
    if seed is not None:
        raw["seed"] = seed
    elif env_seed is not None:
        raw["seed"] = env_seed
    raw["base_dir"] = str(file.parent)
    try:
        task = Task.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{file}: invalid task file\n" + _explain(e)) from None
    _check_paths(task, file)
    return task


def _explain(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        loc = ".".join(str(x) for x in item["loc"] if not isinstance(x, int)) or "(top level)"
        if item["type"] == "extra_forbidden":
            parent = item["loc"][:-1]
            allowed = _allowed_keys(parent)
            lines.append(f"  unknown key {loc!r}; allowed here: {', '.join(allowed)}")
        else:
            lines.append(f"  {loc}: {item['msg']}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Task
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            break
    return sorted((f.alias or n) for n, f in model.model_fields.items() if n != "base_dir")


def _check_paths(task: Task, file: Path) -> None:
    d = task.data
    for key in ("path", "train", "validation", "test", "production_sample"):
        rel = getattr(d, key)
        if rel and not task.resolve(rel).is_file():
            raise ConfigError(
                f"{file}: data.{key} = {rel!r}: file not found", hint="paths are relative to the task file"
            )
    if d.docs and not task.resolve(d.docs).is_dir():
        raise ConfigError(f"{file}: data.docs = {d.docs!r}: directory not found")
    if task.output.kind == "json":
        task.json_schema()
    if task.primary_metric == "judge":
        load_rubric(task, file)

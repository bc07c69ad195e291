"""What every check sees: the datasets, the task's kind, the thresholds, and memoised derived data.

Embeddings and token counts are computed at most once per audit, on first use, whichever check asks
first; checks never load models themselves.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tuneworth.audit.reader import Dataset, Record
from tuneworth.config.task import AuditConfig

if TYPE_CHECKING:
    import numpy as np

    from tuneworth.audit.tokens import ExampleTokens, TokenCounter


@dataclass
class AuditContext:
    data: Dataset
    kind: str = "text"
    """text | label | json (from the task, else inferred from the outputs)."""
    labels: list[str] | None = None
    schema: dict[str, Any] | None = None
    model: str = "local/smollm2-135m"
    config: AuditConfig = field(default_factory=AuditConfig)
    production: Dataset | None = None
    test: Dataset | None = None
    use_embeddings: bool = True
    kind_source: str = "task"
    system_prompt: str | None = None
    """The task file's system prompt (the data may carry its own)."""
    embedding_runtime: str | None = None
    """The runtime that embedded the inputs (``onnx`` or ``torch``), once known."""
    _preload: Any = field(default=None, repr=False)

    @property
    def records(self) -> list[Record]:
        return self.data.records

    @cached_property
    def inputs(self) -> list[str]:
        return [r.example.input for r in self.records]

    @cached_property
    def outputs_json(self) -> list[dict[str, Any] | None]:
        """Each output parsed as a JSON object (None where it is not one)."""
        out: list[dict[str, Any] | None] = []
        for r in self.records:
            try:
                v = json.loads(r.example.output)
            except (json.JSONDecodeError, RecursionError):
                v = None
            out.append(v if isinstance(v, dict) else None)
        return out

    @cached_property
    def tokens(self) -> TokenCounter:
        from tuneworth.audit.tokens import token_counter

        return token_counter(self.model)

    @cached_property
    def example_tokens(self) -> ExampleTokens:
        """Per-example token counts: exact for files up to ``audit.exact_tokens_up_to`` examples, else a
        seeded sample plus every example that could be over the length limit (totals then estimated)."""
        from tuneworth.audit.tokens import length_limit, measure_examples

        limit, _ = length_limit(self.model, self.config.max_example_tokens)
        up_to = self.config.exact_tokens_up_to
        examples = [r.example for r in self.records]
        return measure_examples(self.tokens, examples, limit, exact_up_to=up_to, sample_size=max(200, up_to // 10))

    @cached_property
    def _vectors(self) -> tuple[np.ndarray, dict[str, int]]:
        """Every distinct input of the audit (training, production, test) embedded in one call, once:
        duplicates, contradictions, coverage, representativeness, leakage and label noise all share it.
        The embedder sorts by length and batches; its content-hash cache serves texts seen before."""
        texts = list(self.inputs)
        for ds in (self.production, self.test):
            if ds is not None:
                texts.extend(r.example.input for r in ds.records)
        unique = list(dict.fromkeys(texts))
        return self.embedder().embed(unique), {t: i for i, t in enumerate(unique)}

    def embedder(self) -> Any:
        """The audit's embedder (memoised per process): ONNX Runtime unless configured otherwise or missing."""
        from tuneworth.embeddings.load import load_embedder
        from tuneworth.embeddings.onnx import onnx_available

        runtime = self.config.embedding_runtime
        if runtime == "onnx" and not onnx_available():
            runtime = "torch"
        self.embedding_runtime = runtime
        return load_embedder(runtime=runtime)

    def preload(self) -> None:
        """Load the embedding model in a background thread while the checks without embeddings run."""
        import threading

        if self.use_embeddings and self._preload is None:
            def load() -> None:
                with contextlib.suppress(Exception):  # the check that needs it reports any error itself
                    self.embedder()

            self._preload = threading.Thread(target=load, name="audit-embedder", daemon=True)
            self._preload.start()

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors, row = self._vectors
        return vectors[[row[t] for t in texts]]

    @cached_property
    def embeddings(self) -> np.ndarray:
        """Unit vectors of the training inputs."""
        return self._embed(self.inputs)

    @cached_property
    def production_embeddings(self) -> np.ndarray:
        assert self.production is not None
        return self._embed([r.example.input for r in self.production.records])

    @cached_property
    def test_embeddings(self) -> np.ndarray:
        assert self.test is not None
        return self._embed([r.example.input for r in self.test.records])

    def class_keys(self) -> dict[str, list[str | None]]:
        """Categorical targets: the label (label tasks) or each low-cardinality JSON field, per record."""
        if self.kind == "label":
            return {"label": [r.example.output.strip() for r in self.records]}
        if self.kind != "json":
            return {}
        objs = self.outputs_json
        fields: dict[str, list[str | None]] = {}
        names = sorted({k for o in objs if o for k in o})
        enums = schema_enums(self.schema)
        for name in names:
            values = [o.get(name) if o else None for o in objs]
            scalar = [v for v in values if isinstance(v, str | bool) or v is None]
            if len(scalar) != len(values):
                continue
            distinct = {str(v) for v in values if v is not None}
            present = sum(1 for v in values if v is not None)
            if name in enums or (distinct and len(distinct) <= max(2, min(20, present // 5))):
                fields[name] = [None if v is None else str(v) for v in values]
        return fields


def schema_enums(schema: dict[str, Any] | None) -> dict[str, list[str]]:
    """JSON Schema ``enum`` values of top-level properties (the label sets of a JSON task)."""
    props = (schema or {}).get("properties") or {}
    out: dict[str, list[str]] = {}
    for name, spec in props.items():
        if isinstance(spec, dict) and isinstance(spec.get("enum"), list):
            out[name] = [str(v) for v in spec["enum"]]
    return out


def infer_kind(data: Dataset) -> str:
    """json when nearly every output is a JSON object, label when outputs are few short strings, else text."""
    outs = [r.example.output.strip() for r in data.records if r.example.output.strip()]
    if not outs:
        return "text"
    as_json = 0
    for o in outs:
        if o.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError, RecursionError):
                as_json += isinstance(json.loads(o), dict)
    if as_json >= 0.9 * len(outs):
        return "json"
    distinct = set(outs)
    if len(outs) >= 10 and len(distinct) <= max(2, min(50, len(outs) // 5)) and all(len(o.split()) <= 3 for o in distinct):
        return "label"
    return "text"

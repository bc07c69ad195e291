"""The ``[rungs.L1]`` .. ``[rungs.L4]`` sections of the task file, and ``[decoding]``: what each rung tries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tuneworth.config.base import Strict as _Strict

L1Variant = Literal["base", "format", "rules", "cot"]
L2Selection = Literal["random", "stratified", "nearest"]
L1_VARIANTS: tuple[L1Variant, ...] = ("base", "format", "rules", "cot")
L2_SELECTIONS: tuple[L2Selection, ...] = ("random", "stratified", "nearest")


class PromptingRung(_Strict):
    enabled: bool = True
    """Run L1."""
    variants: list[L1Variant] = Field(default_factory=lambda: list(L1_VARIANTS))
    """Automatic system-prompt variants to try (plus ``prompt.variants``)."""
    rules: list[str] = Field(default_factory=list)
    """Extra rules appended by the ``rules`` variant."""
    cot_max_tokens: int = Field(default=160, ge=16)
    """Token budget for chain-of-thought answers (reasoning + final answer)."""


class FewShotRung(_Strict):
    enabled: bool = True
    """Run L2."""
    k: list[int] = Field(default_factory=lambda: [1, 3, 5, 8])
    """Numbers of demonstrations to try (bounded by the context)."""
    selection: list[L2Selection] = Field(default_factory=lambda: list(L2_SELECTIONS))
    """How demonstrations are picked from train."""
    search: Literal["grid", "coordinate"] = "coordinate"
    """``grid`` tries every (k, selection); ``coordinate`` picks the selection at the middle k, then sweeps k."""
    max_prompt_tokens: int = Field(default=1536, ge=64)
    """Demonstrations are dropped (farthest first) to keep prompts under this many tokens (estimated)."""


DecodingMode = Literal["free", "constrained", "choice", "schema", "structured", "json_object"]
DECODING_DEFAULT: tuple[DecodingMode, ...] = ("free", "constrained")


class DecodingConfig(_Strict):
    modes: list[DecodingMode] = Field(default_factory=lambda: list(DECODING_DEFAULT))
    """How answers are decoded, each tried as a variant of L1 and L2: ``free`` generation, and
    ``constrained``: label scoring (``choice``) for label tasks, JSON-Schema-guided decoding (``schema``)
    for local models or Structured Outputs (``structured``) for API models on JSON tasks. A mode the
    task or model cannot use is skipped with a note in the record."""


class RagRung(_Strict):
    enabled: bool = True
    """Run L3: retrieval over ``data.docs``; a task without docs gets dynamic few-shot instead."""
    k: list[int] = Field(default_factory=lambda: [2, 4])
    """Numbers of retrieved chunks (without docs: most similar training examples) to try."""
    context_tokens: list[int] = Field(default_factory=lambda: [256, 512])
    """Token budgets for the retrieved context to try; chunks that do not fit are left out."""
    search: Literal["grid", "coordinate"] = "coordinate"
    """``grid`` tries every (k, budget); ``coordinate`` sweeps k at the largest budget, then smaller budgets."""
    retrieval: Literal["hybrid", "dense", "bm25"] = "hybrid"
    """Ranking: dense cosine + BM25 fused by reciprocal rank, or either alone."""
    mmr: float | None = Field(default=None, ge=0, le=1)
    """Maximal marginal relevance lambda (1 = relevance only); unset: no diversification."""
    demos: bool = True
    """Build on L2's chosen demonstrations (retrieval adds to the best prompt so far)."""
    chunk_tokens: int = Field(default=128, ge=16, le=8192)
    """Chunk size in the embedding model's tokens (all-MiniLM-L6-v2 reads at most 256)."""
    chunk_overlap: int = Field(default=24, ge=0)
    """Tokens shared by consecutive chunks of a section (at most half of chunk_tokens)."""
    embedding: str = "local/all-MiniLM-L6-v2"
    """Embedding model: the bundled ``local/all-MiniLM-L6-v2`` or ``openai/<embedding-model>``."""
    embedding_base_url: str | None = None
    """Base URL for ``openai/...`` embeddings (default ``$OPENAI_BASE_URL`` or OpenAI)."""

    @model_validator(mode="after")
    def _sizes(self) -> RagRung:
        if not self.k or min(self.k) < 1:
            raise ValueError("rungs.L3.k needs numbers >= 1")
        if not self.context_tokens or min(self.context_tokens) < 16:
            raise ValueError("rungs.L3.context_tokens needs budgets >= 16")
        if self.chunk_overlap > self.chunk_tokens // 2:
            raise ValueError("rungs.L3.chunk_overlap must be at most half of chunk_tokens")
        return self


class FineTuningRung(_Strict):
    enabled: bool = False
    """Run L4 in ``tuneworth climb`` (opt-in: training takes minutes on a CPU). ``tuneworth tune`` runs it alone."""
    n_epochs: int | Literal["auto"] = "auto"
    """Passes over the training data ("auto": ~3, more for tiny sets)."""
    batch_size: int | Literal["auto"] = "auto"
    """Examples per optimizer step ("auto": from the data size)."""
    learning_rate_multiplier: float | Literal["auto"] = "auto"
    """Scales the base LoRA learning rate (2e-4) or, remotely, the provider's."""
    lora_r: int = Field(default=8, ge=1)
    """LoRA rank (local training)."""
    lora_alpha: int = Field(default=16, ge=1)
    """LoRA scaling (local training)."""
    target_modules: list[str] | None = None
    """Linear layers that get LoRA adapters (default: every attention and MLP projection)."""
    lora_layers: int | None = Field(default=None, ge=1)
    """LoRA on the last N transformer layers only (default: all); backpropagation stops below them."""
    system: str | None = Field(default=None, min_length=1)
    """System prompt of the fine-tuned model, in its training data and at inference (default: the task's
    own). A short one saves prompt tokens in training and on every request: the examples teach the task."""
    max_length: int = Field(default=512, ge=8)
    """Longer training examples are dropped and reported (never silently truncated)."""
    eval_every: int | None = Field(default=None, ge=1)
    """Also compute the validation loss every N steps (always once per epoch)."""
    early_stopping_patience: int | None = Field(default=2, ge=1)
    """Stop after this many validation losses without improvement."""
    suffix: str | None = None
    """Middle part of the model id ``ft:<base>:<suffix>:<id>``."""
    model: str | None = None
    """Score this already fine-tuned model (e.g. ``local/ft:...``) instead of training one."""
    poll_seconds: float = Field(default=5.0, gt=0)
    """Remote jobs: seconds between status polls."""
    learning_curve: bool = False
    """Also fine-tune on 25 % and 50 % of train and score each on the test items (``training.learning_curve``)."""


class RungsConfig(_Strict):
    L1: PromptingRung = Field(default_factory=PromptingRung)
    """L1: prompting."""
    L2: FewShotRung = Field(default_factory=FewShotRung)
    """L2: few-shot demonstrations."""
    L3: RagRung = Field(default_factory=RagRung)
    """L3: retrieval-augmented prompts (or dynamic few-shot without documents)."""
    L4: FineTuningRung = Field(default_factory=FineTuningRung)
    """L4: fine-tuning (LoRA locally, or a fine-tuning job on an OpenAI-shaped API)."""

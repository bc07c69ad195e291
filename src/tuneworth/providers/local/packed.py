"""Pre-packed oneDNN weights for the linear layers of a CPU model (the server's batched decoding).

A batched decode step multiplies a few rows (one per request) by every weight matrix. With plain
``F.linear`` (MKL sgemm), a 16-row step on this project's 2-core AVX2 CPU cost about 3.9x a 1-row
step in the matmuls alone, and the matmuls are ~80% of a batched step (torch.profiler). Passing
oneDNN weights already reordered into its blocked layout, packed once at load, cuts the matmul
time of a multi-row call by ~15% (same shapes, weights in DRAM, CPU time); a single row (a
matrix-vector product, bound by reading the weights) stays on ``F.linear``, which is faster there.
Results match ``F.linear`` to float rounding (greedy answers were identical on the benchmark's
prompts).

Only inference uses the packed copy: with autograd on (training), or after the weight has been
changed in place (e.g. a LoRA merge), the layer falls back to ``F.linear`` / repacks. The packed
copy costs as much memory again as the weights.
"""

from __future__ import annotations

import types
from typing import Any

MIN_ROWS = 2  # a single row (matrix-vector) is faster on F.linear


def can_pack(model: Any) -> bool:
    import torch

    params = next(iter(model.parameters()), None)
    return bool(
        torch.backends.mkldnn.is_available()
        and params is not None
        and params.device.type == "cpu"
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    )


def pack_linears(model: Any, *, min_rows: int = MIN_ROWS) -> int:
    """Give every float32 ``nn.Linear`` of ``model`` a packed-weight inference path; returns how many
    layers were packed (0 where oneDNN is unavailable or the model is not on the CPU)."""
    import torch

    if not can_pack(model):
        return 0
    n = 0
    for mod in model.modules():
        if type(mod) is not torch.nn.Linear or mod.weight.dtype != torch.float32:
            continue
        if getattr(mod, "_tw_packed", None) is not None:
            continue
        _repack(mod)
        object.__setattr__(mod, "forward", types.MethodType(_make_forward(min_rows), mod))
        n += 1
    return n


def _repack(mod: Any) -> None:
    import torch

    with torch.no_grad():
        mod._tw_packed = torch.ops.mkldnn._reorder_linear_weight(mod.weight.detach(), 16)
    mod._tw_version = mod.weight._version


def _make_forward(min_rows: int) -> Any:
    import torch
    import torch.nn.functional as F

    def forward(self: Any, x: Any) -> Any:
        rows = x.numel() // x.shape[-1] if x.dim() >= 2 else 1
        if (
            rows < min_rows
            or x.dtype != torch.float32
            or (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
        ):
            return F.linear(x, self.weight, self.bias)
        if self.weight._version != self._tw_version:  # changed in place since packing
            _repack(self)
        return torch.ops.mkldnn._linear_pointwise(x, self._tw_packed, self.bias, "none", [None], "")

    return forward

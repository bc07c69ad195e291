"""Per-token log probabilities of a local model's answer, in OpenAI's ``choice.logprobs.content`` shape.

Each answer token (those counted in ``usage.completion_tokens``) gets its text, its log probability
under the model (a log-softmax of the raw logits, before temperature, nucleus or grammar masking),
its raw bytes (a token may hold part of a UTF-8 character; its text then shows U+FFFD), and the
``top`` most likely tokens at that position.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's byte-level BPE alphabet (bytes shown as printable characters)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def token_bytes(tok: Any, token_id: int) -> bytes:
    piece = tok.convert_ids_to_tokens(token_id)
    if token_id in set(tok.all_special_ids) or not isinstance(piece, str):
        return tok.decode([token_id]).encode("utf-8")
    decoder = _byte_decoder()
    if all(ch in decoder for ch in piece):  # byte-level BPE (SmolLM2, GPT-2, Llama 3 ...)
        return bytes(decoder[ch] for ch in piece)
    return tok.decode([token_id]).encode("utf-8")


def _entry(tok: Any, token_id: int, logprob: float) -> dict[str, Any]:
    raw = token_bytes(tok, token_id)
    return {"token": raw.decode("utf-8", errors="replace"), "logprob": round(float(logprob), 6), "bytes": list(raw)}


def token_logprobs(tok: Any, logits: Sequence[Any], ids: Sequence[int], top: int) -> list[dict[str, Any]]:
    """``logits[j]`` is the vocabulary-sized score vector that chose ``ids[j]``."""
    import torch

    out = []
    for row, token_id in zip(logits, ids, strict=True):
        logp = torch.log_softmax(row.float(), dim=-1)
        entry = _entry(tok, token_id, logp[token_id].item())
        alternatives = []
        if top > 0:
            values, indices = torch.topk(logp, top)
            alternatives = [_entry(tok, int(j), v) for v, j in zip(values.tolist(), indices.tolist(), strict=True)]
        entry["top_logprobs"] = alternatives
        out.append(entry)
    return out

"""Prefill planning for the local provider: shared-prefix reuse and length-bucketed prefill.

On a CPU, prefill costs the same per token whatever the batch, so every padded or repeated prompt
token is real time. A batch is planned as groups of rows that share a conversation prefix (system
prompt, fixed demonstrations); each group's prefix KV cache is computed once (kept in a small LRU)
and expanded over its rows, and the rows' own suffixes are prefilled in length buckets so a long
message does not make short ones pay for padding. Every row's keys and values are then copied,
right-aligned, into one batch cache laid out exactly like plain left padding, so ``generate``
decodes the whole batch together (where a large batch pays off) and gets the same results as the
plain path (tested token for token).
"""

from __future__ import annotations

import copy
from collections import OrderedDict, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_PREFIX = 16  # shorter shared prefixes are not worth a separate forward pass
PREFIX_CACHE_SIZE = 8


@dataclass(frozen=True)
class Group:
    prefix_len: int
    rows: list[int]


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix, leaving every sequence at least one token of its own."""
    shortest = min(len(s) for s in seqs)
    first = seqs[0]
    n = 0
    while n < shortest - 1 and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


def plan_groups(ids_list: Sequence[Sequence[int]], keys: Sequence[Hashable], reuse: bool) -> list[Group]:
    """Rows with the same key (conversation prefix) and a long enough common prefix form a group."""
    groups: list[Group] = []
    loose: list[int] = []
    if reuse:
        by_key: dict[Hashable, list[int]] = defaultdict(list)
        for i, k in enumerate(keys):
            by_key[k].append(i)
        for rows in by_key.values():
            n = common_prefix_len([ids_list[i] for i in rows]) if len(rows) > 1 else 0
            if n >= MIN_PREFIX:
                groups.append(Group(n, rows))
            else:
                loose.extend(rows)
    else:
        loose = list(range(len(ids_list)))
    if loose:
        # Rows with prompts of their own (e.g. per-item demonstrations) usually still share the
        # system prompt at the start.
        n = common_prefix_len([ids_list[i] for i in loose]) if reuse and len(loose) > 1 else 0
        groups.append(Group(n if n >= MIN_PREFIX else 0, sorted(loose)))
    return groups


def length_buckets(lengths: list[int], *, slack: float = 1.25, floor: int = 32) -> list[list[int]]:
    """Group indices by length so padding stays within ``slack`` of the real tokens (+ ``floor``)."""
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


class Prefiller:
    """Builds the batch KV cache for ``generate`` (see the module docstring)."""

    def __init__(self, model: Any, pad_token_id: int) -> None:
        self.model = model
        self.pad = pad_token_id
        self._prefixes: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.prefix_tokens_saved = 0

    def prefix_cache(self, prefix: tuple[int, ...]) -> Any:
        if prefix in self._prefixes:
            self._prefixes.move_to_end(prefix)
            return self._prefixes[prefix]
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        with torch.inference_mode():
            self.model(
                torch.tensor([list(prefix)], device=self.model.device),
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        self._prefixes[prefix] = cache
        while len(self._prefixes) > PREFIX_CACHE_SIZE:
            self._prefixes.popitem(last=False)
        return cache

    def build(self, ids_list: Sequence[Sequence[int]], groups: list[Group], bucket: bool) -> Any:
        """A cache holding every row's tokens but its last, right-aligned to ``max(len) - 1``."""
        import torch
        from transformers import DynamicCache

        device = self.model.device
        total = max(len(ids) for ids in ids_list) - 1
        keys: list[Any] = []
        values: list[Any] = []

        def slot(layer_no: int, like: Any) -> None:
            if len(keys) <= layer_no:
                shape = (len(ids_list), like.shape[1], total, like.shape[-1])
                keys.append(torch.zeros(shape, dtype=like.dtype, device=device))
                values.append(torch.zeros(shape, dtype=like.dtype, device=device))

        for group in groups:
            n = group.prefix_len
            prefix = tuple(ids_list[group.rows[0]][:n])
            if n:
                self.prefix_tokens_saved += n * (len(group.rows) - 1)
            own = [len(ids_list[i]) - 1 - n for i in group.rows]  # tokens to prefill per row
            parts = length_buckets(own) if bucket else [list(range(len(own)))]
            for part in parts:
                rows = [group.rows[j] for j in part]
                lens = [own[j] for j in part]
                width = max(lens)
                if width == 0:
                    base = self.prefix_cache(prefix)
                    for layer_no, layer in enumerate(base.layers):
                        slot(layer_no, layer.keys)
                        for i in rows:
                            keys[layer_no][i, :, total - n :] = layer.keys[0]
                            values[layer_no][i, :, total - n :] = layer.values[0]
                    continue
                batch = [
                    [self.pad] * (width - ln) + list(ids_list[i][n : n + ln])
                    for i, ln in zip(rows, lens, strict=True)
                ]
                mask = torch.tensor(
                    [[1] * n + [0] * (width - ln) + [1] * ln for ln in lens], dtype=torch.long, device=device
                )
                positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n:]
                if n:
                    cache = copy.deepcopy(self.prefix_cache(prefix))
                    cache.batch_repeat_interleave(len(rows))
                else:
                    cache = DynamicCache(config=self.model.config)
                with torch.inference_mode():
                    self.model(
                        input_ids=torch.tensor(batch, dtype=torch.long, device=device),
                        attention_mask=mask,
                        position_ids=positions,
                        cache=cache,
                        use_cache=True,
                        logits_to_keep=1,
                    )
                for layer_no, layer in enumerate(cache.layers):
                    slot(layer_no, layer.keys)
                    for r, (i, ln) in enumerate(zip(rows, lens, strict=True)):
                        # Copy only real tokens; padding stays zero in the merged cache (and is masked).
                        start = total - n - ln
                        if n:
                            keys[layer_no][i, :, start : start + n] = layer.keys[r, :, :n]
                            values[layer_no][i, :, start : start + n] = layer.values[r, :, :n]
                        keys[layer_no][i, :, total - ln :] = layer.keys[r, :, n + width - ln :]
                        values[layer_no][i, :, total - ln :] = layer.values[r, :, n + width - ln :]
        merged = DynamicCache(config=self.model.config)
        for layer_no, (k, v) in enumerate(zip(keys, values, strict=True)):
            merged.update(k, v, layer_no)
        return merged

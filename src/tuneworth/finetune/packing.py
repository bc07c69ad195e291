"""Padding-free batches: a step's examples are packed end to end into one row.

Each example restarts its ``position_ids`` at 0, which is how transformers recognises packed
sequences and keeps attention inside each one (a block-diagonal causal mask), so no FLOP is spent on
padding and no example sees another. Targets are shifted inside each example; the last token of an
example never predicts the first token of the next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tuneworth.finetune.data import Encoded


@dataclass
class PackedBatch:
    input_ids: Any  # LongTensor [1, L]
    position_ids: Any  # LongTensor [1, L]
    target_index: Any  # LongTensor [n]: positions whose hidden state predicts a trained token
    targets: Any  # LongTensor [n]: the token each of those positions must predict
    tokens: int  # tokens processed (L)
    examples: int


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled example order of one epoch: a pure function of (seed, epoch), so resumes repeat it."""
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def step_groups(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    order = epoch_order(n, seed, epoch)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def pack(examples: list[Encoded], device: Any = None) -> PackedBatch:
    import torch

    ids: list[int] = []
    pos: list[int] = []
    index: list[int] = []
    targets: list[int] = []
    for ex in examples:
        start = len(ids)
        ids.extend(ex.ids)
        pos.extend(range(len(ex.ids)))
        # Position t predicts token t+1; the loss counts it when token t+1 is trained.
        for t in range(len(ex.ids) - 1):
            if ex.mask[t + 1]:
                index.append(start + t)
                targets.append(ex.ids[t + 1])
    return PackedBatch(
        input_ids=torch.tensor([ids], dtype=torch.long, device=device),
        position_ids=torch.tensor([pos], dtype=torch.long, device=device),
        target_index=torch.tensor(index, dtype=torch.long, device=device),
        targets=torch.tensor(targets, dtype=torch.long, device=device),
        tokens=len(ids),
        examples=len(examples),
    )

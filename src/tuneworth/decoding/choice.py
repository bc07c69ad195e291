"""Label scoring for local models (``decoding = "choice"``): the most likely label, not a generated one.

The standard multiple-choice method of evaluation harnesses: each allowed label is scored by the
mean log-probability of its tokens (length-normalised, so long labels are not penalised for being
long) given the prompt, followed by the end-of-turn token (so a label that is a prefix of another,
"neg" and "negative", is scored as the whole answer). The prompts' KV cache is built once per batch
(with the provider's shared-prefix reuse) and never copied: the labels are laid out as branches of
one short continuation with a tree-shaped attention mask (each branch sees the prompt and its own
earlier tokens), so all labels of all rows are scored in one forward pass over the label tokens only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.errors import ConfigError

MAX_ROWS = 64  # (prompt, label) pairs per forward pass: bounds the logits held at once


def label_token_ids(tokenizer: Any, labels: Sequence[str]) -> list[list[int]]:
    """Token ids of each label as the assistant's whole answer: the label, then the end-of-turn token."""
    end = tokenizer.eos_token_id
    out = []
    for label in labels:
        ids = list(tokenizer.encode(label, add_special_tokens=False))
        out.append([*ids, end] if end is not None else ids)
    return out


def check_labels(tokenizer: Any, labels: Sequence[str], model_id: str) -> None:
    """Labels the model cannot tell apart (same tokens) make label scoring meaningless: refuse them."""
    seen: dict[tuple[int, ...], str] = {}
    for label, ids in zip(labels, label_token_ids(tokenizer, labels), strict=True):
        key = tuple(ids)
        if key in seen:
            raise ConfigError(
                f"output.labels: {label!r} and {seen[key]!r} tokenize identically for {model_id}, "
                "so label scoring cannot tell them apart",
                hint="rename one of the labels (or drop decoding mode 'choice')",
            )
        seen[key] = label


def prefill(model: Any, input_ids: Any, attention_mask: Any) -> Any:
    """The KV cache of a left-padded prompt batch for every token but the last (right-aligned)."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    if input_ids.shape[1] > 1:
        with torch.inference_mode():
            model(
                input_ids=input_ids[:, :-1],
                attention_mask=attention_mask[:, :-1],
                position_ids=(attention_mask[:, :-1].cumsum(-1) - 1).clamp(min=0),
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
    return cache


def score_labels(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    cache: Any,
    label_ids: Sequence[Sequence[int]],
    pad_token_id: int,
) -> list[list[float]]:
    """Mean log-probability of every label for every row of a left-padded prompt batch.

    ``cache`` holds the prompts' keys and values for all tokens but the last (right-aligned, as the
    local provider's prefill builds it), or is None to compute it here. Returns ``[row][label]``.
    """
    import torch
    from transformers import DynamicCache

    device = input_ids.device
    n_rows, n_labels = input_ids.shape[0], len(label_ids)
    if cache is None:
        cache = prefill(model, input_ids, attention_mask)
    tree = _LabelTree(label_ids)
    n_past = input_ids.shape[1] - 1  # the cache's length: every prompt token but the last
    # Rows per forward pass: bounds the logits (rows x branch tokens x vocab) as MAX_ROWS did the copies.
    per_pass = max(1, MAX_ROWS // n_labels)
    scores: list[list[float]] = []
    dtype = next(model.parameters()).dtype
    for start in range(0, n_rows, per_pass):
        rows = list(range(start, min(n_rows, start + per_pass)))
        if len(rows) == n_rows:
            sub = cache  # the branches are appended to it and taken off again below
            saved = [(layer.keys, layer.values) for layer in cache.layers]
        else:  # this pass's rows only (each once: the labels share them through the mask)
            index = torch.tensor(rows, device=device)
            sub = DynamicCache(config=model.config)
            for layer_no, layer in enumerate(cache.layers):
                sub.update(layer.keys[index], layer.values[index], layer_no)
            saved = None
        r = len(rows)
        ids = tree.tokens.to(device).repeat(r, 1)
        ids[:, 0] = input_ids[rows, -1]
        seen = attention_mask[rows, :-1].bool()[:, None, :].expand(r, tree.length, n_past)
        allowed = torch.cat([seen, tree.allow.to(device)[None].expand(r, -1, -1)], dim=-1)
        mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, torch.finfo(dtype).min)
        first = attention_mask[rows].sum(-1, keepdim=True) - 1  # the last prompt token's position
        try:
            with torch.inference_mode():
                logits = model(
                    input_ids=ids,
                    attention_mask=mask[:, None],
                    position_ids=first + tree.depth.to(device)[None],
                    cache=sub,
                    use_cache=True,
                ).logits.float()
        finally:
            if saved is not None:
                for layer, (k, v) in zip(cache.layers, saved, strict=True):
                    layer.keys, layer.values = k, v
        logprobs = logits.log_softmax(-1)[:, tree.query, tree.target]  # (rows, every label token)
        sums = torch.zeros(r, n_labels, dtype=logprobs.dtype, device=device)
        sums.index_add_(1, tree.label.to(device), logprobs)
        totals = sums / tree.lengths.to(device)[None]
        scores.extend(totals.tolist())
    return scores


class _LabelTree:
    """All labels as branches of one continuation after the prompt's last token.

    Token 0 is the last prompt token; then each label's tokens but its last follow as a branch that
    sees the prompt, token 0 and its own earlier tokens only (``allow``), at the positions they
    would have as the answer (``depth``). One forward pass over these few tokens per row scores
    every label, with no copy of the prompt's cache per label. ``query[m]`` is the position whose
    logits predict label token ``m`` (``target[m]``), of label ``label[m]``.
    """

    def __init__(self, label_ids: Sequence[Sequence[int]]) -> None:
        import torch

        tokens, branch, depth = [0], [-1], [0]
        query, target, label = [], [], []
        for j, ids in enumerate(label_ids):
            prev = 0
            for i, t in enumerate(ids):
                query.append(prev)
                target.append(t)
                label.append(j)
                if i < len(ids) - 1:
                    tokens.append(t)
                    branch.append(j)
                    depth.append(i + 1)
                    prev = len(tokens) - 1
        n = len(tokens)
        b = torch.tensor(branch)
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        self.allow = causal & ((b[:, None] == b[None, :]) | (torch.arange(n) == 0)[None, :])
        self.length = n
        self.tokens = torch.tensor(tokens, dtype=torch.long)[None]
        self.depth = torch.tensor(depth, dtype=torch.long)
        self.query = torch.tensor(query, dtype=torch.long)
        self.target = torch.tensor(target, dtype=torch.long)
        self.label = torch.tensor(label, dtype=torch.long)
        self.lengths = torch.tensor([len(ids) for ids in label_ids], dtype=torch.float32)

"""Label scoring for local models (``decoding = "choice"``): the most likely label, not a generated one.

The standard multiple-choice method of evaluation harnesses: each allowed label is scored by the
mean log-probability of its tokens (length-normalised, so long labels are not penalised for being
long) given the prompt, followed by the end-of-turn token (so a label that is a prefix of another,
"neg" and "negative", is scored as the whole answer). The prompts' KV cache is built once per batch
(with the provider's shared-prefix reuse) and expanded over the labels, so all labels of all rows are
scored in one forward pass over the label tokens only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.errors import ConfigError

MAX_ROWS = 64  # (prompt, label) rows per forward pass: bounds the expanded KV cache and the logits


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
    width = 1 + max(len(ids) for ids in label_ids)
    # Each forward pass takes whole prompts (all their labels) up to MAX_ROWS (prompt, label) rows.
    per_pass = max(1, MAX_ROWS // n_labels)
    scores: list[list[float]] = []
    for start in range(0, n_rows, per_pass):
        rows = list(range(start, min(n_rows, start + per_pass)))
        # This pass's rows, each repeated once per label (copies only these rows, not the batch).
        index = torch.tensor(rows, device=device)
        sub = DynamicCache(config=model.config)
        for layer_no, layer in enumerate(cache.layers):
            sub.update(
                layer.keys[index].repeat_interleave(n_labels, dim=0),
                layer.values[index].repeat_interleave(n_labels, dim=0),
                layer_no,
            )
        prompt_mask = attention_mask[rows].repeat_interleave(n_labels, dim=0)
        last = input_ids[rows, -1:].repeat_interleave(n_labels, dim=0)
        cont = torch.full((len(rows) * n_labels, width - 1), pad_token_id, dtype=torch.long, device=device)
        cont_mask = torch.zeros_like(cont)
        for r in range(len(rows)):
            for j, ids in enumerate(label_ids):
                cont[r * n_labels + j, : len(ids)] = torch.tensor(ids, dtype=torch.long, device=device)
                cont_mask[r * n_labels + j, : len(ids)] = 1
        mask = torch.cat([prompt_mask, cont_mask], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
        with torch.inference_mode():
            logits = model(
                input_ids=torch.cat([last, cont], dim=1),
                attention_mask=mask,
                position_ids=positions,
                cache=sub,
                use_cache=True,
            ).logits.float()
        # Position t predicts continuation token t: the last prompt token predicts the label's first.
        logprobs = logits[:, :-1].log_softmax(-1).gather(-1, cont.unsqueeze(-1)).squeeze(-1)
        totals = (logprobs * cont_mask).sum(-1) / cont_mask.sum(-1)
        for r in range(len(rows)):
            scores.append(totals[r * n_labels : (r + 1) * n_labels].tolist())
    return scores

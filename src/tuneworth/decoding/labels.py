"""Label sets that label scoring cannot use, caught at task validation (``tuneworth validate``).

Duplicates (after case and whitespace folding) are refused when the task file loads (task.py). Labels
that tokenize identically need the model's tokenizer: for local models it is loaded here (the
tokenizer only, no weights) and the labels are checked as the climb would check them before it
runs; other providers are checked when the climb plans its decodings.
"""

from __future__ import annotations

from tuneworth.config.task import Task


def check_label_tokenization(task: Task) -> bool:
    """ConfigError when two labels tokenize identically for the task's local model; True when checked."""
    if task.output.kind != "label" or not task.output.labels:
        return False
    if not any(m in ("constrained", "choice") for m in task.decoding.modes):
        return False
    from tuneworth.providers.registry import split_name

    provider, name = split_name(task.model.name)
    if provider != "local" or name.startswith("ft:"):
        return False
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        return False
    from transformers import AutoTokenizer

    from tuneworth.decoding.choice import check_labels
    from tuneworth.errors import TuneworthError
    from tuneworth.paths import home
    from tuneworth.providers.local.provider import BUNDLED, model_dir

    if name in BUNDLED and not any((home() / "models").glob(f"{name}-*/tokenizer.json")):
        return False  # not converted yet: validate does not load models; the climb checks
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir(name)))
    except (OSError, ValueError, TuneworthError):  # no tokenizer here: the climb checks with the model
        return False
    check_labels(tokenizer, task.output.labels, task.model.name)
    return True

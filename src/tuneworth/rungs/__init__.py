"""The ladder's rungs, one per module, each a ``Rung`` (see ``base``). Registry: ``RUNGS``."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuneworth.rungs.base import Rung

# Rung name -> "module:class". Adding a rung is one new module and one line here.
RUNGS = {
    "L1": "tuneworth.rungs.prompting:PromptingRung",
    "L2": "tuneworth.rungs.fewshot:FewShotRung",
    "L3": "tuneworth.rungs.rag:RagRung",
    "L4": "tuneworth.rungs.finetuning:FineTuningRung",
}


def load_rung(name: str) -> Rung:
    """A fresh instance of the registered rung ``name``."""
    module, _, cls = RUNGS[name].partition(":")
    rung: Rung = getattr(import_module(module), cls)()
    return rung

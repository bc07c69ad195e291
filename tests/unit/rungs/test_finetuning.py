"""L4's seams: the backend comes from L4's own model spec; its metadata is declared on the rung."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.data import oracle_label, write_label_task
from tuneworth.config.task import load_task
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.run.climb import climb
from tuneworth.rungs import RUNGS, load_rung
from tuneworth.rungs.base import Rung
from tuneworth.rungs.finetuning import FineTuningRung


def _answer(r: ChatRequest) -> str:
    return oracle_label(r.messages[-1]["content"])


def test_a_local_l4_under_an_api_main_model_trains_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``model.rungs = {L4 = "local/..."}`` under ``openai/...``: LoRA on the local base, no remote job."""
    from tuneworth.finetune import remote

    root = write_label_task(tmp_path / "task", """
[model]
name = "openai/base-model"
base_url = "http://127.0.0.1:9/v1"
[model.rungs]
L4 = "local/smollm2-135m"
[rungs.L4]
enabled = true
""")
    trained_on: list[str] = []

    def train_local(self: FineTuningRung, ctx: Any, base: str, *args: Any) -> tuple[str, dict[str, Any]]:
        trained_on.append(base)
        return "local/smollm2-135m", {"model_id": "ft:smollm2-135m:x", "trained": True, "where": "local",
                                      "base_model": base, "seconds": 1.0, "trained_tokens": 100}

    def no_remote_job(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a remote fine-tuning job was started for a local L4")

    monkeypatch.setattr(FineTuningRung, "_train_local", train_local)
    monkeypatch.setattr(remote, "run_job", no_remote_job)
    task = load_task(root)
    main = Model(FakeProvider(_answer, model_id="openai/base-model"))
    l4 = Model(FakeProvider(_answer, model_id="local/smollm2-135m"))
    result = climb(task, main, run_dir=tmp_path / "run", rungs=["L4"], models={"L4": l4})
    assert trained_on == ["smollm2-135m"]
    assert result.summary.training is not None and result.summary.training.where == "local"
    assert result.summary.rungs[0].model == "local/smollm2-135m"


def test_every_registered_rung_declares_its_metadata() -> None:
    rungs = [load_rung(name) for name in RUNGS]
    assert all(isinstance(r, Rung) for r in rungs)
    assert [r.order for r in rungs] == sorted(r.order for r in rungs) and len({r.order for r in rungs}) == len(rungs)
    assert [r.name for r in rungs if r.trains] == ["L4"]
    assert {r.name: r.cost_class for r in rungs} == {"L1": "prompt", "L2": "prompt", "L3": "retrieval", "L4": "training"}
    # L3 fixes knowledge only in a run that retrieved documents; before it ran, it has not.
    rag = load_rung("L3")
    assert rag.fixes == "knowledge" and rag.fixes_in_run() == "behaviour"
    rag.mode = "documents"  # type: ignore[attr-defined]
    assert rag.meta().fixes == "knowledge"


def test_the_climb_probes_no_rung_attributes() -> None:
    import inspect

    from tuneworth.run import climb as climb_module

    source = inspect.getsource(climb_module)
    assert "hasattr(" not in source and "getattr(rung" not in source
    assert '"L1"' not in source and '"L3"' not in source and '"L4"' not in source

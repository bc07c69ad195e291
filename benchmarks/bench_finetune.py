"""Our LoRA trainer vs TRL's SFTTrainer (its defaults), same model, data, LoRA config and epochs.

Each trainer runs in its own subprocess (so peak RSS is its own). tokens/s = tokens in the training file
x epochs / seconds inside the training call (model loading excluded for both). Validation loss is
computed for both adapters by the same function (mean loss per assistant token) so the numbers compare.
TRL is not a project dependency: pass --trl-python pointing at a throwaway venv that has trl installed.

TRL runs with its SFTConfig defaults except ``bf16=False`` (its default bf16 autocast is emulated, and
very slow, on a CPU without bf16 units; ours trains in fp32). Both children use the same number of torch threads (``--threads``, default: every core). Our time
includes its per-epoch validation pass and checkpoint writes; TRL gets no eval set and saves nothing.

  python benchmarks/bench_finetune.py --trl-python /tmp/trl-venv/bin/python --train 96 --valid 16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LORA = {
    "r": 8,
    "lora_alpha": 16,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def prepare(workdir: Path, n_train: int, n_valid: int) -> tuple[Path, Path]:
    from tuneworth.config.task import load_task
    from tuneworth.finetune.prepare import prepare as prep

    info = prep(load_task(ROOT / "examples" / "support-triage"), workdir)
    train, valid = Path(info["train_file"]), Path(info["validation_file"])
    for path, n in ((train, n_train), (valid, n_valid)):
        path.write_text("\n".join(path.read_text().splitlines()[:n]) + "\n")
    return train, valid


def valid_loss(model: object, tok: object, valid: Path) -> float:
    from tuneworth.finetune.data import encode, load_chat_jsonl
    from tuneworth.finetune.local import evaluate

    loss = evaluate(model, encode(tok, load_chat_jsonl(valid), 512))
    assert loss is not None
    return loss


def run_ours(train: Path, valid: Path, epochs: int, batch: int) -> dict[str, object]:
    from tuneworth.finetune.hyper import Hyperparameters
    from tuneworth.finetune.local import train_lora
    from tuneworth.providers.local.provider import model_dir

    hp = Hyperparameters(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate_multiplier=1.0,
        lora_r=LORA["r"],
        lora_alpha=LORA["lora_alpha"],
        target_modules=LORA["target_modules"],
        early_stopping_patience=None,
    )
    result = train_lora(str(model_dir("smollm2-135m")), train, valid, hp, work_dir=Path(tempfile.mkdtemp()))
    return {
        "seconds": result.seconds,
        "valid_loss": result.metrics["valid_loss"],
        "train_loss": result.metrics.get("train_loss"),
    }


def run_trl(train: Path, valid: Path, epochs: int, batch: int) -> dict[str, object]:
    from datasets import load_dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from tuneworth.finetune.local import load_base
    from tuneworth.providers.local.provider import model_dir

    model, tok = load_base(model_dir("smollm2-135m"))
    data = load_dataset("json", data_files={"train": str(train)})["train"]
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch,
        learning_rate=2e-4,
        max_length=512,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        # TRL defaults to bf16 mixed precision; this CPU (AVX2, no bf16 units) emulates it slowly, and
        # ours trains in fp32: same precision on both sides. Every other setting is TRL's default
        # (gradient checkpointing on, no packing, loss on every token), recorded in the results.
        bf16=False,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=tok,
        peft_config=LoraConfig(task_type="CAUSAL_LM", **LORA),
    )
    t0 = time.time()
    out = trainer.train()
    seconds = time.time() - t0
    return {
        "seconds": seconds,
        "valid_loss": valid_loss(trainer.model, tok, valid),
        "train_loss": out.training_loss,
        "trl_defaults": {
            k: getattr(args, k, None)
            for k in (
                "gradient_checkpointing",
                "packing",
                "padding_free",
                "assistant_only_loss",
                "completion_only_loss",
                "bf16",
                "per_device_train_batch_size",
            )
        },
    }


def child(which: str, train: Path, valid: Path, epochs: int, batch: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    result = (run_ours if which == "ours" else run_trl)(train, valid, epochs, batch)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["torch_threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trl-python", required=True)
    ap.add_argument("--train", type=int, default=96)
    ap.add_argument("--valid", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8, help="TRL's default per-device batch size")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--child", choices=["ours", "trl"])
    ap.add_argument("--files", nargs=2)
    a = ap.parse_args()
    if a.child:
        child(a.child, Path(a.files[0]), Path(a.files[1]), a.epochs, a.batch, a.threads)
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _results import save

    from tuneworth.finetune.data import encode, load_chat_jsonl
    from tuneworth.finetune.local import load_base
    from tuneworth.providers.local.provider import model_dir

    work = Path(tempfile.mkdtemp(prefix="bench-ft-"))
    train, valid = prepare(work, a.train, a.valid)
    _, tok = load_base(model_dir("smollm2-135m"))
    tokens = encode(tok, load_chat_jsonl(train), 512).tokens * a.epochs
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "TUNEWORTH_HOME": os.environ.get("TUNEWORTH_HOME", ""),
    }
    env = {k: v for k, v in env.items() if v}
    results: dict[str, dict[str, object]] = {}
    load_before = os.getloadavg()
    print("start:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    for which, python in (("ours", sys.executable), ("trl", a.trl_python)):
        proc = subprocess.run(
            [
                python,
                __file__,
                "--trl-python",
                a.trl_python,
                "--child",
                which,
                "--files",
                str(train),
                str(valid),
                "--epochs",
                str(a.epochs),
                "--batch",
                str(a.batch),
                "--threads",
                str(a.threads),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{which} failed:\n{proc.stderr[-3000:]}")
        results[which] = json.loads(line[7:])
        results[which]["tokens_per_second"] = tokens / float(results[which]["seconds"])  # type: ignore[arg-type]
        print(which, results[which], flush=True)
    print("end:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    ratio = results["ours"]["tokens_per_second"] / results["trl"]["tokens_per_second"]  # type: ignore[operator]
    summary = {
        "train_examples": a.train,
        "valid_examples": a.valid,
        "epochs": a.epochs,
        "batch": a.batch,
        "threads": a.threads,
        "tokens": tokens,
        "lora": LORA,
        "ours": results["ours"],
        "trl": results["trl"],
        "speedup": ratio,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(summary, indent=2))
    save("finetune_vs_trl", summary)


if __name__ == "__main__":
    main()

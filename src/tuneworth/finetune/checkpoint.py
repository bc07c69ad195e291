"""Training checkpoints in a work directory, for resuming and for keeping the best adapter.

Layout: ``run.json`` (what is being trained: base, data fingerprints, hyperparameters),
``checkpoint-<step>/`` (LoRA weights as safetensors, optimizer/scheduler/RNG state, trainer state;
the last ``KEEP`` are kept) and ``best/`` (the weights with the lowest validation loss so far).
Every directory is written under a temporary name and renamed into place, so an interruption while
saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tuneworth.errors import ConfigError, TrainingError

KEEP = 3
WEIGHTS = "adapter.safetensors"
STATE = "state.json"
OPTIM = "optim.pt"


def _atomic_dir(target: Path, fill: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(tmp)
        if target.exists():
            old = target.with_name(f".old-{target.name}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        raise TrainingError(
            f"{'the disk is full' if full else 'could not write'} while saving {target.name} in "
            f"{target.parent} ({e.strerror or e}): the previous checkpoint is intact, nothing was registered",
            hint=f"free space under {target.parent} and run the same command again to resume",
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def claim(work_dir: Path, run: dict[str, Any]) -> None:
    """Mark ``work_dir`` as holding this run; refuse a directory that holds a different one."""
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "run.json"
    text = json.dumps(run, indent=2, sort_keys=True)
    if path.is_file():
        if json.loads(path.read_text(encoding="utf-8")) != json.loads(text):
            raise ConfigError(
                f"{work_dir} holds checkpoints of a different training run (other data, base or hyperparameters)",
                hint="use another work directory, or delete this one to start over",
            )
        return
    path.write_text(text, encoding="utf-8")


def save(
    work_dir: Path, step: int, weights: dict[str, Any], optim: dict[str, Any], state: dict[str, Any]
) -> Path:
    import torch
    from safetensors.torch import save_file

    def fill(tmp: Path) -> None:
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(tmp / WEIGHTS))
        torch.save(optim, tmp / OPTIM)
        (tmp / STATE).write_text(json.dumps(state, indent=2), encoding="utf-8")

    target = work_dir / f"checkpoint-{step}"
    _atomic_dir(target, fill)
    for old in checkpoints(work_dir)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def save_best(work_dir: Path, weights: dict[str, Any], info: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    def fill(tmp: Path) -> None:
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(tmp / WEIGHTS))
        (tmp / STATE).write_text(json.dumps(info, indent=2), encoding="utf-8")

    _atomic_dir(work_dir / "best", fill)


def checkpoints(work_dir: Path) -> list[Path]:
    found = [p for p in work_dir.glob("checkpoint-*") if p.is_dir() and (p / STATE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def load_latest(work_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(weights, optimizer state, trainer state) of the last complete checkpoint, or None."""
    import torch
    from safetensors.torch import load_file

    found = checkpoints(work_dir) if work_dir.is_dir() else []
    if not found:
        return None
    last = found[-1]
    state = json.loads((last / STATE).read_text(encoding="utf-8"))
    optim = torch.load(last / OPTIM, weights_only=False)
    return load_file(str(last / WEIGHTS)), optim, state


def load_best(work_dir: Path) -> dict[str, Any] | None:
    from safetensors.torch import load_file

    path = work_dir / "best" / WEIGHTS
    return load_file(str(path)) if path.is_file() else None

"""PolyAI restaurant8k (../shared/datasets, CC-BY-4.0) as chat JSONL: the slot values as a JSON object.

Used by the audit snapshot (docs/audit-restaurant8k.md) and its test. ``python benchmarks/restaurant8k.py OUT_DIR``
writes OUT_DIR/train.jsonl and OUT_DIR/test.jsonl.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "restaurant8k"
SYSTEM = "Extract the restaurant booking slots (date, time, people, first_name, last_name) as a JSON object."


def convert(split: str, out: Path, limit: int | None = None) -> Path:
    items = json.loads((SHARED / f"{split}.json").read_text(encoding="utf-8"))[:limit]
    with out.open("w", encoding="utf-8") as f:
        for it in items:
            text = it["userInput"]["text"]
            gold = {
                lab["slot"]: text[lab["valueSpan"].get("startIndex", 0) : lab["valueSpan"]["endIndex"]]
                for lab in it.get("labels", [])
            }
            msgs = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": text},
                {"role": "assistant", "content": json.dumps(gold)},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        print(convert(split, target / f"{split}.jsonl"))

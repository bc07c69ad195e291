"""Loading a task's data: read the files, check the gold answers, freeze the seeded split.

The split (and its sizes, fingerprints and item ids, for the run record) is decided here once, so
every rung, the audit and the learning curve see the same train/validation/test items.
"""

from __future__ import annotations

import json

from tuneworth.config.task import Task
from tuneworth.data.example import Example, fingerprint
from tuneworth.data.formats import load_examples
from tuneworth.data.split import Split, split_examples, split_stratum
from tuneworth.errors import DatasetError
from tuneworth.record.schema import DataInfo


def check_gold(task: Task, examples: list[Example]) -> None:
    """Gold outputs must be answers of the task's kind: parseable JSON objects, or labels from the set."""
    kind = task.output.kind
    for ex in examples:
        path, _, line = ex.source.rpartition(":")
        lineno = int(line) if line.isdigit() else None
        if kind == "json":
            try:
                value = json.loads(ex.output)
            except json.JSONDecodeError as e:
                raise DatasetError(
                    f"ideal output is not valid JSON ({e.msg})",
                    path=path,
                    line=lineno,
                    hint='output.kind = "json" needs each ideal answer to be a JSON object',
                ) from None
            if not isinstance(value, dict):
                raise DatasetError("ideal output is JSON but not an object", path=path, line=lineno)
        elif kind == "label" and ex.output.strip() not in (task.output.labels or []):
            raise DatasetError(
                f"ideal output {ex.output.strip()!r} is not in output.labels",
                path=path,
                line=lineno,
                hint=f"labels are {task.output.labels}; fix the data or add the label",
            )


def _load(task: Task, name: str) -> list[Example]:
    examples = load_examples(task.resolve(name))
    check_gold(task, examples)
    return examples


def _split_files(task: Task) -> tuple[Split, dict[str, str]]:
    """Separate train/validation/test files; a missing validation or test part comes from train."""
    d = task.data
    assert d.train is not None
    train = _load(task, d.train)
    val = _load(task, d.validation) if d.validation else None
    test = _load(task, d.test) if d.test else None
    if val is None or test is None:
        rest = split_examples(
            train,
            validation_size=d.validation_size if val is None else 1,
            test_size=d.test_size if test is None else 1,
            seed=task.seed,
            stratify=split_stratum(task),
        )
        train = rest.train + (rest.validation if val is not None else []) + (rest.test if test is not None else [])
        val = val if val is not None else rest.validation
        test = test if test is not None else rest.test
    files = {k: v for k, v in (("train", d.train), ("validation", d.validation), ("test", d.test)) if v}
    return Split(train, val, test), files


def load_split(task: Task) -> tuple[Split, DataInfo]:
    """The task's frozen split and what the run record keeps about it."""
    d = task.data
    if d.path:
        split = split_examples(
            _load(task, d.path),
            validation_size=d.validation_size,
            test_size=d.test_size,
            seed=task.seed,
            stratify=split_stratum(task),
        )
        files = {"path": d.path}
    else:
        split, files = _split_files(task)
    return split, data_info(split, files)


def data_info(split: Split, files: dict[str, str], limit: int | None = None) -> DataInfo:
    return DataInfo(
        files=files,
        sizes=split.sizes(),
        fingerprints={k: fingerprint(getattr(split, k)) for k in ("train", "validation", "test")},
        test_ids=[ex.id for ex in split.test],
        validation_ids=[ex.id for ex in split.validation],
        limit=limit,
    )

"""Prompt text derived from the task: output-format instructions, rules, chain-of-thought.

Format instructions come from the label set or the JSON Schema, so the explicit-format variant
tells the model exactly which keys and values are allowed.
"""

from __future__ import annotations

from typing import Any

from tuneworth.config.task import Task


def _describe_property(name: str, spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return f'"{name}": one of {", ".join(repr(v) if not isinstance(v, str) else chr(34) + v + chr(34) for v in spec["enum"])}'
    kind = spec.get("type", "any")
    desc = f" ({spec['description']})" if spec.get("description") else ""
    return f'"{name}": {kind}{desc}'


def format_instruction(task: Task, schema: dict[str, Any] | None) -> str:
    kind = task.output.kind
    if kind == "label":
        labels = ", ".join(task.output.labels or [])
        return f"Answer with exactly one of these labels and nothing else: {labels}."
    if kind == "json":
        if schema and isinstance(schema.get("properties"), dict):
            props = "\n".join(f"- {_describe_property(k, v)}" for k, v in schema["properties"].items())
            return (
                "Answer with a single JSON object on one line and nothing else (no prose, no code fences). "
                f"Its keys:\n{props}"
            )
        return "Answer with a single JSON object and nothing else (no prose, no code fences)."
    return "Answer with only the answer itself, no explanation."


def rules_block(task: Task, schema: dict[str, Any] | None) -> str:
    rules = list(task.rungs.L1.rules)
    kind = task.output.kind
    if kind == "json":
        rules += [
            "Use only the keys listed above, each exactly once.",
            "Use only the allowed values; copy them exactly, in lower case.",
            "Always answer, even when the message is short, vague, sarcastic or not in English.",
            "Output the JSON object only: nothing before or after it.",
        ]
    elif kind == "label":
        rules += [
            "Pick the single best label, even when the input is short, vague or not in English.",
            "Write the label exactly as listed; output nothing else.",
        ]
    else:
        rules += ["Be concise.", "Do not explain your answer."]
    return "Rules:\n" + "\n".join(f"{i}. {r}" for i, r in enumerate(rules, 1))


def cot_instruction(task: Task, schema: dict[str, Any] | None) -> str:
    return (
        "First think step by step in at most three short sentences. Then write a final line that starts with "
        "'Answer:' followed by the answer. "
        + format_instruction(task, schema).replace("and nothing else", "on that line")
    )

"""Importing the CLI must stay light: no torch, transformers, openai (or pydantic) until a command runs."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "torch", "transformers", "openai", "numpy", "pydantic", "rich", "jsonschema", "peft",
    "fastapi", "uvicorn", "httpx", "aiohttp", "sentence_transformers", "onnxruntime", "matplotlib", "scipy",
]


def test_cli_import_loads_no_heavy_modules() -> None:
    code = (
        "import sys, json, tuneworth, tuneworth.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_help_runs_without_heavy_modules() -> None:
    code = (
        "import sys, json\n"
        "from tuneworth.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "climb" in out.stdout
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_subcommand_help_runs_without_heavy_modules() -> None:
    """`tuneworth CMD --help` is as light as `tuneworth --help`: command bodies import what they need."""
    code = (
        "import sys, json, click\n"
        "from tuneworth.cli import cli, main\n"
        "names = [n for n, c in cli.commands.items()]\n"
        "names += [f'{n} {s}' for n, c in cli.commands.items() if isinstance(c, click.Group) for s in c.commands]\n"
        "for name in names:\n"
        "    try:\n        main([*name.split(), '--help'])\n    except SystemExit:\n        pass\n"
        f"print(json.dumps([len(names), [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert count > 10, out.stdout
    assert loaded == [], f"--help of some subcommand imported {loaded}"


def test_public_api_is_lazy_and_exact() -> None:
    import tuneworth

    assert "climb" in tuneworth.__all__
    assert callable(tuneworth.load_task)

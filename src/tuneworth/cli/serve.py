"""``tuneworth serve``: the local OpenAI-compatible API server (imports FastAPI only when it runs)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. Anything but loopback needs an API key.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Files, jobs and models (default: $TUNEWORTH_DATA_DIR or ~/.local/share/tuneworth/serve).")
@click.option("--api-key", help="Require 'Authorization: Bearer KEY' on /v1 (or set $TUNEWORTH_API_KEY).")
@click.option("--model", "models", multiple=True,
              help="Base model to serve and fine-tune, NAME=SPEC or SPEC (repeatable; default smollm2-135m).")
@click.option("--max-body-mb", default=4.0, show_default=True, type=float, help="JSON request body limit.")
@click.option("--max-upload-mb", default=512.0, show_default=True, type=float, help="File upload limit.")
@click.option("--max-batch", default=32, show_default=True, type=int, help="Most requests in one forward pass.")
@click.option("--batch-wait-ms", default=20.0, show_default=True, type=float,
              help="How long a batch waits for the next request before it starts (each arrival "
                   "waits again, at most 10x in all).")
@click.option("--max-adapters", default=4, show_default=True, type=int, help="Fine-tuned adapters kept loaded.")
@click.option("--min-examples", default=10, show_default=True, type=int,
              help="Fewest training examples a job accepts (OpenAI: 10).")
def serve_cmd(host: str, port: int, data_dir: Path | None, api_key: str | None, models: tuple[str, ...],
              max_body_mb: float, max_upload_mb: float, max_batch: int, batch_wait_ms: float,
              max_adapters: int, min_examples: int) -> None:
    """Serve an OpenAI-compatible API: models, chat, embeddings, files and fine-tuning jobs."""
    import importlib.util

    from tuneworth.errors import ConfigError, MissingDependencyError

    for module, package in (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("multipart", "python-multipart")):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(package, "serve")
    from tuneworth.paths import serve_api_key
    from tuneworth.serve.app import serve
    from tuneworth.serve.config import ServeConfig, default_data_dir, parse_model_option

    if max_batch < 1 or max_adapters < 1 or min_examples < 1 or batch_wait_ms < 0:
        raise ConfigError("--max-batch, --max-adapters and --min-examples must be at least 1")
    config = ServeConfig(
        host=host, port=port, data_dir=data_dir or default_data_dir(),
        api_key=api_key or serve_api_key(),
        max_body_bytes=int(max_body_mb * (1 << 20)), max_upload_bytes=int(max_upload_mb * (1 << 20)),
        max_batch=max_batch, max_wait_ms=batch_wait_ms, max_adapters=max_adapters, min_examples=min_examples,
    )
    if models:
        config.models = dict(parse_model_option(m) for m in models)
    config.check()
    click.echo(f"tuneworth serve: http://{host}:{port}/v1  models: {', '.join(config.models)}  "
               f"data: {config.data_dir}" + ("  (API key required)" if config.api_key else ""), err=True)
    serve(config)

"""Server settings (``tuneworth serve`` options), resolved once at start-up."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from tuneworth.errors import ConfigError
from tuneworth.paths import API_KEY_ENV, serve_data_dir

default_data_dir = serve_data_dir


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=default_data_dir)
    api_key: str | None = None
    models: dict[str, str] = field(default_factory=lambda: {"smollm2-135m": "smollm2-135m"})
    """Served base models: public name -> local spec (bundled name or HF directory)."""
    max_body_bytes: int = 4 << 20
    max_upload_bytes: int = 512 << 20
    max_batch: int = 32
    max_wait_ms: float = 20.0
    max_adapters: int = 4
    min_examples: int = 10
    max_tokens_limit: int = 4096
    worker: bool = True

    def check(self) -> None:
        """Refuse unsafe or impossible settings before anything starts."""
        if not is_loopback(self.host) and not self.api_key:
            raise ConfigError(
                f"refusing to listen on {self.host} without an API key: anyone on the network could use it",
                hint=f"pass --api-key KEY or set ${API_KEY_ENV}, or bind 127.0.0.1",
            )
        if self.max_body_bytes < 1024 or self.max_upload_bytes < 1024:
            raise ConfigError("body and upload limits must be at least 1024 bytes")
        for name in self.models:
            if not name or "/" in name or name.startswith("ft:"):
                raise ConfigError(
                    f"model name {name!r} is not usable as an API model id",
                    hint="name it without '/' and not starting with 'ft:', e.g. --model tiny=/path/to/dir",
                )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_model_option(value: str) -> tuple[str, str]:
    """``NAME=SPEC`` or ``SPEC`` (named after the bundled model or the directory's name)."""
    name, sep, spec = value.partition("=")
    if not sep:
        spec = value
        name = Path(value).name if ("/" in value or os.sep in value) else value
    if not name or not spec:
        raise ConfigError(f"--model {value!r} is not NAME=SPEC", hint="e.g. --model tiny=/path/to/hf-dir")
    return name, spec

"""One small exception tree. Every error carries a message and, where we know it, the fix.

Errors are turned into text only at the boundaries (CLI, server); library code raises these.
"""

from __future__ import annotations


class TuneworthError(Exception):
    """Base of every error tuneworth raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class ConfigError(TuneworthError):
    """The task file or a CLI option is invalid."""


class DatasetError(TuneworthError):
    """A data file is malformed. ``path`` and ``line`` point at the problem."""

    def __init__(self, message: str, *, path: str, line: int | None = None, hint: str | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line


class MissingDependencyError(TuneworthError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the optional package {package!r}, which is not installed",
            hint=f"pip install 'tuneworth[{extra}]'",
        )
        self.package = package
        self.extra = extra


class ProviderError(TuneworthError):
    """A model provider failed. ``retryable`` says whether trying again may help."""

    exit_code = 1

    def __init__(self, message: str, *, retryable: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class AuthError(ProviderError):
    """The provider rejected our credentials; the run cannot continue."""


class RateLimitError(ProviderError):
    """The provider asked us to slow down (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, retryable=True, hint=hint)
        self.retry_after = retry_after


class ContextLengthError(ProviderError):
    """The prompt does not fit the model's context window."""


class TrainingError(TuneworthError):
    """Fine-tuning failed (local trainer or a remote job); the message says why and what to change."""

    exit_code = 1


class TrainingCancelled(TrainingError):
    """Training was stopped on request; the last checkpoint stays in the work directory for a resume."""

    exit_code = 130


class QuotaError(ProviderError):
    """The account has no quota or credit left (``insufficient_quota``); the run cannot continue."""


class RetrievalWarning(UserWarning):
    """Retrieval went on, but something deserves attention (a truncated query, a rebuilt index)."""


class UnsupportedSchemaError(ConfigError):
    """A JSON Schema the constrained decoder cannot compile; ``keyword`` names the culprit if known."""

    def __init__(self, message: str, *, keyword: str | None = None) -> None:
        what = f"JSON Schema keyword {keyword!r} is not supported" if keyword else "the JSON Schema is not supported"
        super().__init__(
            f"{what} by schema-guided decoding ({message.strip().splitlines()[0][:300]})",
            hint="simplify the schema, or drop decoding mode 'constrained'/'schema' (free decoding still runs)",
        )
        self.keyword = keyword


class RunFailed(TuneworthError):
    """A run's step failed after its work was saved (exit code 1)."""

    exit_code = 1

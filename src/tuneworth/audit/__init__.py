"""The training-data audit: the fine-tuning data checklist, each item with pass/warn/fail and evidence.

``audit(path, production=..., test=..., task=...) -> AuditReport``. The reader (``reader.py``) is
tolerant: it collects every problem with its line instead of stopping at the first. Checks live one
per module in ``checks/``; embeddings and token counts are computed once, lazily (``context.py``).
"""

from __future__ import annotations

from tuneworth.audit.model import AuditReport, CheckResult, Evidence, Problem, Status
from tuneworth.audit.run import audit, audit_split

__all__ = ["AuditReport", "CheckResult", "Evidence", "Problem", "Status", "audit", "audit_split"]

"""The base of every task-file section: unknown keys rejected, field docstrings as documentation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A task-file section: ``extra="forbid"`` (a typo is an error, not a silent default), and each
    field's docstring is its documentation (``use_attribute_docstrings``)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, populate_by_name=True)

"""Constrained decoding: label scoring, schema-guided decoding, Structured Outputs (see ``plan``)."""

"""Reports rendered from a run record: terminal table, Markdown (and, later, HTML)."""

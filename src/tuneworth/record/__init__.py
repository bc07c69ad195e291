"""The run record: typed models (``schema``), the writer and reader (``store``), version upgrades."""

"""The dated prices table, for decide's callers: it lives in ``config/prices.py`` (with ``prices.toml``),
because the task file's ``economics`` is checked against it when the task loads and config sits below decide."""

from tuneworth.config.prices import Price, PriceTable, load_prices

__all__ = ["Price", "PriceTable", "load_prices"]

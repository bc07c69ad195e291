"""Evaluation: parsing answers, metrics, statistics, and running a strategy over items."""

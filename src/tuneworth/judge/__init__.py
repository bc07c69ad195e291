"""The LLM judge: a rubric from the task file, pointwise or pairwise prompts, calibration against people."""

"""The run: climb (a loop over rungs), the run record, resume and diagnosis."""

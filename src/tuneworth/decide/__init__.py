"""The decision: statistics over the run record, costs from a dated prices table, break-even, and
the five questions that end in a recommendation. Reads only run records (never live objects)."""

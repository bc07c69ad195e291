"""Statistics: intervals, paired tests and agreement; one function per number."""

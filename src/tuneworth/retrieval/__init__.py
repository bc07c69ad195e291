"""Retrieval: finding the training examples (and, later, documents) most similar to a query."""

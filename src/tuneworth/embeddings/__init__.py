"""Embeddings: one load_embedder(spec); the bundled MiniLM on torch or ONNX Runtime, OpenAI, and the vector cache."""

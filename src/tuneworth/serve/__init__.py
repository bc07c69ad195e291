"""``tuneworth serve``: a local OpenAI-compatible API (models, chat, embeddings, files, fine-tuning jobs).

Code written for OpenAI's fine-tuning API runs unchanged against local open models by changing only
``base_url``. Modules: ``app`` (routes, auth, limits), ``errors`` (the OpenAI error envelope),
``store`` (SQLite WAL + content-addressed files), ``validate`` (chat JSONL checks), ``batcher``
(dynamic batching), ``pool`` (base models and LRU-cached LoRA adapters), ``objects`` (response shapes),
``worker`` (the training process, one job at a time).
"""

"""Fine-tuning: data preparation, the local LoRA trainer, the adapter store, remote jobs."""

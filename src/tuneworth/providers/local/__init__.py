"""The bundled local model on torch: provider, shared-prefix prefill, token logprobs, packed weights."""

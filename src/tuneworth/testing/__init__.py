"""Test doubles that are real components: an OpenAI-compatible server with faults (``fault_server``)."""

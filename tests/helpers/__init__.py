"""Test helpers shared across tests/unit and tests/integration: import them from here, never from conftest."""

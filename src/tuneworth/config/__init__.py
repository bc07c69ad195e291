"""The task file's typed configuration."""

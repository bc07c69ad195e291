"""Scripts that keep the documentation true: ``scripts/readme.py`` regenerates the README's outputs."""

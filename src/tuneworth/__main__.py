"""``python -m tuneworth``."""

from tuneworth.cli import main

main()

"""Allows `python -m transcript_cli`."""

from transcript_cli.cli import main

main()

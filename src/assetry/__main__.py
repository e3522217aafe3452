"""`python -m assetry` runs the command-line interface."""

from assetry.cli import main

main()

"""`python -m pcr_sdk.cli`: the `pcr` command (for when the console script is not on PATH)."""

from pcr_sdk.cli import main

main()

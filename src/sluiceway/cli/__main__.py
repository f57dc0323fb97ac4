"""`python -m sluiceway.cli` is the `sluiceway` command too, as it was before the split."""

from sluiceway.cli import main

main()

"""Entry point of the environment template (`python -m sluiceway.local.environment_template
FD`); see `sluiceway.local.environment_process`. Kept apart so that running it does not
re-import a module the package has already loaded."""

from sluiceway.local.environment_process import main

main()

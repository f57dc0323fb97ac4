"""Entry point of the environment template (`python -m sluiceway.awslambda.environment_template
FD`); see `sluiceway.awslambda.environment_process`. Kept apart so that running it does not
re-import a module the package has already loaded."""

from sluiceway.awslambda.environment_process import main

main()

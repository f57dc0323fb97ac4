"""Entry point of the delivery process (`python -m sluiceway.local.delivery_process`);
see `sluiceway.local.sender`. Kept apart so that running it does not re-import a module the
package has already loaded."""

from sluiceway.local.sender import main

main()

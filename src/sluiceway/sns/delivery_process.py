"""Entry point of the delivery process (`python -m sluiceway.sns.delivery_process`);
see `sluiceway.sns.sender`. Kept apart so that running it does not re-import a module the
package has already loaded."""

from sluiceway.sns.sender import main

main()

"""`App`: where a system is declared, once, for every target.

`_app.py` holds `App` itself (resources, parameters, user pools, the firewall, IoT),
`_functions.py` the function decorators, `_integrations.py` routes and pipes, and
`_declarations.py` the registries and checks they share.
"""

from sluiceway.app._app import App

__all__ = ["App"]

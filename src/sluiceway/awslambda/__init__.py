"""AWS Lambda: running a handler as Lambda does (its context, permissions, timeouts, errors),
the event source mappings that feed functions from queues, streams and topics, a function's
grants, and its render. The execution environments that run handlers in processes of their own
are the runtime's (`sluiceway.local.environments`), as Lambda's are its service's machinery.

Named as moto names it (`lambda` is a Python keyword)."""

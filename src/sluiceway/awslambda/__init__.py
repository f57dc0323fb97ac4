"""AWS Lambda: running a handler as Lambda does (execution environments, permissions, timeouts)
and the event source mappings that feed functions from queues, streams and topics.

Named as moto names it (`lambda` is a Python keyword)."""

"""AWS WAF (v2): web ACL declarations, the in-memory evaluator the gateway runs, and the render.

Users declare rules through `sluiceway.firewall`, the public module."""

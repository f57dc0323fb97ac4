"""The core every service builds on: the store (one SQLite writer, group commit) and its schema,
background work, ids, clock, errors, logs, names and ARNs, settings, the AttributeValue codec, AWS
event shapes, tracing, the HTTP edge, the frames the runtime speaks to its worker processes,
AWS's wire protocols (`wire`), and the toolkit every service's AWS render uses (`render`).

The core imports no service (an import-linter contract in pyproject.toml checks it)."""

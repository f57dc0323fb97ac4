"""The seed systems, declared once each: `sluiceway run orders` (and `registrations`,
`iot-router`) runs one; each is also an example of the public API."""

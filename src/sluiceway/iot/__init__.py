"""AWS IoT Core: topic rules for publishes, the MQTT publisher and embedded broker, and the
render of the allowlist."""

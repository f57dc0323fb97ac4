"""Amazon EventBridge Pipes: a source's records, filtered, enriched and delivered to a target."""

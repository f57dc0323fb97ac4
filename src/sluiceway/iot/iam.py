"""The IAM actions of IoT Core that a handle's permissions grant."""

IOT_PUBLISH_ACTIONS = frozenset({"iot:Publish"})

"""The IAM actions of SNS (topics and SMS) that a handle's permissions grant."""

TOPIC_PUBLISH_ACTIONS = frozenset({"sns:Publish"})

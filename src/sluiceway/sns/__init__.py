"""Amazon SNS: topics, subscriptions and the delivery outbox; email, SMS and the delivery
process that carries them; signed envelopes."""

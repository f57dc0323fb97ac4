"""Amazon SQS: queues on the store (send, receive, visibility, dead-letter queues, redrive) and
what a message must satisfy."""

"""The toolkit every service's AWS render is written with: what a render reads and returns
(`fragment`), how it refuses what it cannot render (`checks`), the template's names
(`names`) and IAM documents (`roles`). Each service's ``render`` module builds its own
resources with these; ``sluiceway.aws.template`` (above every service) merges them."""

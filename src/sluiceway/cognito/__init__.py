"""Amazon Cognito user pools: app clients, the OAuth2 token endpoint, the authorizer, and
their render."""

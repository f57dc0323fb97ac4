"""Amazon API Gateway: the HTTP gateway and its integrations (SQS, DynamoDB, Lambda proxy),
request models, the front door process and its inbox, and the REST API's render."""

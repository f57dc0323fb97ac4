"""Amazon DynamoDB: tables on the store, each write committed with its stream record."""

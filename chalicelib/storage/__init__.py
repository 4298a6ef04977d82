"""Persistence behind one protocol (base.Store): SQLite locally, DynamoDB on AWS."""

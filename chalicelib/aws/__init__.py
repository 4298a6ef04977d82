"""AWS-side pieces that are not a Store, Executor, Keyring or scheduler: names, IAM, packaging, plan/deploy."""

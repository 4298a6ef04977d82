"""Running functions: the Executor protocol (base.py) and its backends (local warm workers, AWS Lambda)."""

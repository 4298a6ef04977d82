"""The runtime shim each per-function AWS Lambda runs (handler.py): the local executor's worker code, unchanged.

Packaged at the top level of the Lambda's code (handler ``lambda_shim.handler.handle``) next to ``local/`` (the
worker scripts and protocol.py), so it is stdlib-only and imports nothing from chalicelib.
"""

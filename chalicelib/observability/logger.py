"""One Powertools Logger ("fngate") whose JSON handler also serves the application's module loggers.

``configure()`` hangs the Logger's handler on the ``chalicelib`` logger too, so ``logging.getLogger(__name__)`` in
any module writes the same JSON lines, and keys bound for a request (request id, account) appear on every line
logged while it runs, whatever module logs it.
"""

from __future__ import annotations

import logging
import os
import sys

from aws_lambda_powertools import Logger

ENV_LOG_LEVEL = "FNGATE_LOG_LEVEL"  # DEBUG | INFO (default) | WARNING | ERROR
SERVICE = "fngate"
_MODULES = "chalicelib"

LOGGER = Logger(service=SERVICE, level=os.environ.get(ENV_LOG_LEVEL, "INFO").upper(), stream=sys.stdout,
                utc=True, use_rfc3339=True, log_record_order=["timestamp", "level", "message", "request_id"])
_configured = False


def configure() -> Logger:
    """Idempotent; the app calls it at import, so it holds wherever the app is hosted (fngate serve, Lambda)."""
    global _configured
    if not _configured:
        logging.getLogger(SERVICE).propagate = False  # one line per event, whatever the host's root logger does
        modules = logging.getLogger(_MODULES)
        modules.addHandler(LOGGER.registered_handler)
        modules.setLevel(LOGGER.log_level)
        modules.propagate = False  # not again through a root handler a host may have set up
        _configured = True
    return LOGGER

"""Function Lambdas' log groups, made by the deploy with the stack's retention.

Why the gateway makes them: Lambda creates a function's log group on its first write with no expiry, so logs (and
their cost) would grow forever, unlike the stack's own groups (infra/fngate.yaml keeps ``RETENTION_DAYS``). The
deploy creates the group (or finds it) and sets the retention; undeploying keeps it, so a function's last logs stay
readable until they expire.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.aws import names
from chalicelib.domain.errors import DeployFailed, Unavailable

RETENTION_DAYS = 30  # the stack's log groups keep the same (tests/infra checks the template against this)


class FunctionLogGroups:
    """``ensure(lambda_name)`` before the Lambda exists; one CloudWatch Logs round per group per process."""

    def __init__(self, client: Any = None, *, region_name: str | None = None,
                 retention_days: int = RETENTION_DAYS) -> None:
        self._client, self._region, self._days = client, region_name, retention_days
        self._done: set[str] = set()
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("logs", region_name=self._region)
        return self._client

    def ensure(self, lambda_name: str) -> str:
        """The group's name, created if missing, with the retention set (idempotent; safe across processes)."""
        group = names.function_log_group(lambda_name)
        with self._lock:
            if group in self._done:
                return group
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self.client.create_log_group(logGroupName=group)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise
            self.client.put_retention_policy(logGroupName=group, retentionInDays=self._days)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "InvalidParameterException", "LimitExceededException"):
                raise DeployFailed(detail=f"CloudWatch Logs refused log group {group}: {code}") from None
            raise Unavailable(detail=f"CloudWatch Logs failed on log group {group}: {code}") from None
        except BotoCoreError as err:
            raise Unavailable(detail=f"CloudWatch Logs could not be reached: {err}") from None
        with self._lock:
            self._done.add(group)
        return group

"""The gateway's own logs and metrics, through aws-lambda-powertools: structured JSON lines (Logger) and request
figures (Metrics: CloudWatch EMF on AWS Lambda, the same figures kept in the process locally).

What is logged: an access line per request (request id, account, function, route, method, status, duration,
outcome, error code), every deployment outcome, every failure. What never is: headers (tokens), bodies (function
input and results, secret values, client secrets), query strings.
"""

from chalicelib.observability.access import access_log
from chalicelib.observability.logger import LOGGER, configure
from chalicelib.observability.metrics import GATEWAY_METRICS, GatewayMetrics

__all__ = ["GATEWAY_METRICS", "LOGGER", "GatewayMetrics", "access_log", "configure"]

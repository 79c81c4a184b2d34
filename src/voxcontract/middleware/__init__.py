"""The ASGI middleware every VoxScriber server built on the core shares."""

from voxcontract.middleware.allow import AllowHeaderMiddleware
from voxcontract.middleware.auth import AuthMiddleware
from voxcontract.middleware.body_limit import BodyLimitMiddleware
from voxcontract.middleware.header_limit import HeaderLimitMiddleware
from voxcontract.middleware.rate_limit import RateLimitMiddleware
from voxcontract.middleware.request_context import RequestContextMiddleware

__all__ = [
    "AllowHeaderMiddleware",
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "HeaderLimitMiddleware",
    "RateLimitMiddleware",
    "RequestContextMiddleware",
]

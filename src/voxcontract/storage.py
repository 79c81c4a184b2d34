"""The server's own storage failing is not the client's fault, and not a surprise either: it is a 503 or a 507.

:func:`storage_errors` wraps the writes a server makes to its media store (an upload, a deletion) and turns the
operating system's refusal into a problem the client can act on: ``507 insufficient_storage`` when the disk or a
quota is full, ``503 service_unavailable`` (with ``Retry-After``) when the store cannot be written now (a read-only
or unmounted file system, lost permissions). The caller guarantees that nothing half-done is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Iterator

from voxcontract.errors import InsufficientStorage, ServiceUnavailable

__all__ = ["storage_errors"]

logger = logging.getLogger(__name__)

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Raise ``InsufficientStorage`` or ``ServiceUnavailable`` for an ``OSError`` of the block; ``action`` ends the
    detail ("nothing was kept", "nothing was deleted")."""
    try:
        yield
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "unknown")
        logger.error("media store: %s (%s)", exc.strerror or exc, name)
        if exc.errno in _FULL:
            raise InsufficientStorage(f"The media store is full; {action}. Retry later.") from exc
        raise ServiceUnavailable(f"The media store cannot be written now ({name}); {action}. Retry later.") from exc

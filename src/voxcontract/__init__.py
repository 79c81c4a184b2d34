"""voxcontract: the contract-first toolkit for the VoxScriber transcription API.

The shared core: the one spec loader, settings, the problem+json exception tree, auth, rate limiting,
Standard Webhooks signing, the ASGI middleware and app factory, and the ``voxcontract`` command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("voxcontract")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]

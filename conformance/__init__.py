"""The VoxScriber conformance suite: point it at any deployment by URL, get a verdict."""

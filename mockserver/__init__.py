"""The deterministic VoxScriber mock server for integrators (built on :mod:`voxcontract`; see ARCHITECTURE.md)."""

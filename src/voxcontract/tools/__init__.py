"""Tools for spec authors: lint, docs, diff."""

"""Synthetic dataset generators and loaders."""

__all__: list[str] = []

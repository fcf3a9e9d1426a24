"""The package version, kept in one place for pyproject and the public face."""

__version__ = "0.1.0"

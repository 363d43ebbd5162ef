"""The package version (one place: setuptools and the docs read it here)."""

__version__ = "0.1.0.dev0"

"""judge-client: the Python client for judge-service."""

__version__ = "0.1.0"

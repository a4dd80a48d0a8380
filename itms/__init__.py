"""ITMS command line and settings: the small package that wires ingest, analytics, store and api together."""

__version__ = "0.1.0"

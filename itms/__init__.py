"""ITMS command line and settings: the small package that wires the stages together."""

__version__ = "0.1.0"

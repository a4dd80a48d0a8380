"""Composition of the long-running services from the settings (the composition root's wiring)."""

"""The composition root's wiring: services built from the settings, each given a typed config."""

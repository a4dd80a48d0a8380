"""The composition root's wiring: services built from the settings, each part given its own typed config."""

"""The composition root's wiring: builds each part's typed configuration from the settings."""

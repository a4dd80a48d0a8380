"""Incident detection: detector and probe methods, their fusion and the incident lifecycle."""

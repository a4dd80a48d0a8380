"""SUMO as a simulation engine: scenarios built from any project network, run headless, and
turned into the project's feeds and ground truth (see docs/SUMO.md)."""

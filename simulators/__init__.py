"""Simulated city feeds (GPS probes, detectors, incidents) with ground truth, and replays."""

"""Scoring the analytics against simulator ground truth."""

"""Kafka plumbing: clients, topics and the project-owned local broker."""

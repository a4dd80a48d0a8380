"""Worker processes: Kafka consumer groups that turn feeds into stored traffic state."""

"""Feed contracts, validation, dead-letter, Kafka plumbing and feed gateways."""

"""Road network, map matching, speeds, congestion, incidents and the worker processes."""

"""The true traffic state the simulated feeds are drawn from."""

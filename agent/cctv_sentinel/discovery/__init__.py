"""I/O probes: each reports what it sees as Observations and decides nothing."""

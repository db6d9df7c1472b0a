"""The agent as a service: its configuration, the daemon, and the commands it obeys."""

"""Contract tests: the MQTT contract checked from the agent's and the integration's side."""

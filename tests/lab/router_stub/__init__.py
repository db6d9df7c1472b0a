"""Faithful stubs of router APIs the isolation backends speak (appliances cannot run here)."""

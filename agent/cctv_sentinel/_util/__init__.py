"""Helpers every layer may use: bounded file reading, validation messages, permissions, time."""

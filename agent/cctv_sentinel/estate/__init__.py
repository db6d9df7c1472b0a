"""The estate: many agents' retained state read from one broker, merged into one picture."""

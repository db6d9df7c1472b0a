"""The camera inventory: stable ids (.ids), the camera record (.records), SQLite (.store)."""

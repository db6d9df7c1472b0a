"""Reports for people and tools: table, JSON and CSV of a scan; the auditor's HTML and CSV."""

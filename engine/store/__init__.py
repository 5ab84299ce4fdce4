"""The run store: one SQLite file (runs.py), its tables and upgrades (schema.py), compact prediction blobs, and the
readers that summarise stored runs for every view (summary.py)."""

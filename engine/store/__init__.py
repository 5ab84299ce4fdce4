"""The run store: one SQLite file (runs.py), its tables and upgrades (schema.py), compact prediction blobs, figures
as stored (figures.py: an undefined one is null), the readers that summarise stored runs for every view
(summary.py), a sweep's results (sweep_results.py), the sealed test figures and their unsealings (sealed.py), and
which runs a prune deletes (prune.py)."""

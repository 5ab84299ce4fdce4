"""Job control: where jobs come from (source) and which seeds still need one (seeds), the queue kept in the store,
the worker and its slots and lock, the runner that trains jobs in a process (stopping a sweep's losing points:
halving), waiting on jobs from outside (watch),
NVIDIA GPUs, run-time estimates and the Slurm path through submitit."""

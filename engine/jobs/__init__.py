"""Job control: the queue kept in the store, the worker and its slots, the runner that trains jobs in a process,
NVIDIA GPUs, run-time estimates and the Slurm path through submitit."""

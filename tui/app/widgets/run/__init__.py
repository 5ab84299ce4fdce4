"""The run view's parts: the running jobs, the followed job's bars and curves, and the queue."""

"""The `dermalab` command: its parser and entry point (main), the options several commands share (options), the
commands that train (run_commands), look after the queue (queue_commands), read results (result_commands) and
unseal the test figures (sealed_commands), the
columns of its tables and its headless progress."""

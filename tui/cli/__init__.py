"""The `dermalab` command: its parser and entry point, the commands that run and those that read results, the
columns of its tables and its headless progress."""

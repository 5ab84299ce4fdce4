"""experiments.toml as data: the validated spec of one experiment, the file's loading (extends, validation), and
the arithmetic of each network's shape and parameter count."""

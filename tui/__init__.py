"""Everything a person touches in a terminal: the command line, the headless progress display and the app."""

"""The experiments screen's list and its side pane."""

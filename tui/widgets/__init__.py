"""Widgets grouped by what they draw; none of them holds training logic."""

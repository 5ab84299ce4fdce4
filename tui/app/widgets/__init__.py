"""Widgets grouped by the screen region they serve (frame, experiments, run, results, pictures); none of them
holds training logic."""

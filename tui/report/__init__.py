"""`dermalab report`: the store as report.md, a CSV per table and, with matplotlib, the charts as PNGs."""

"""How things read as text, for the terminal and for files alike: numbers, the measures' names and meanings,
tables, and images as half-block characters."""

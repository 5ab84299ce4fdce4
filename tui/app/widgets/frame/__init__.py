"""What every screen has: the header, the key line and the filter bar."""

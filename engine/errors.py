"""The one exception type for mistakes a user can make and fix: bad files, options, data or paths."""


class UserError(Exception):
    """Carries one sentence saying what is wrong and how to fix it; the CLI prints it and exits 2."""

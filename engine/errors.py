"""The exceptions that cross module lines: UserError for mistakes a user can make and fix (bad files, options, data
or paths), and RunCancelled for a cancel asked for while a run trains."""


class UserError(Exception):
    """Carries one sentence saying what is wrong and how to fix it; the CLI prints it and exits 2."""


def said(error: Exception) -> str:
    """An error as a user reads it: a UserError's own sentence, anything else named with its type."""
    return str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"


class RunCancelled(Exception):
    """A cancel was asked for (`dermalab cancel`, the app, or a worker's SIGINT to its child)."""

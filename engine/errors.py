"""The exceptions that cross module lines: UserError for mistakes a user can make and fix (bad files, options, data
or paths), and RunCancelled for a cancel asked for while a run trains."""


class UserError(Exception):
    """Carries one sentence saying what is wrong and how to fix it; the CLI prints it and exits 2."""


def said(error: Exception) -> str:
    """An error as a user reads it: a UserError's own sentence; anything else named with its type and the first line
    of its text (a library's error, torch.compile's say, may run on for pages)."""
    if isinstance(error, UserError):
        return str(error)
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class RunCancelled(Exception):
    """A cancel was asked for (`dermalab cancel`, the app, or a worker's SIGINT to its child); its argument, when
    given, is the reason the run is stored with (a worker stopped by SIGTERM is not a user's cancel)."""

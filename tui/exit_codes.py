"""What `dermalab` exits with, shared by the command line and the app that reads its children's exits."""

OK = 0
RUN_FAILED = 1  # a run failed on its own (diverged, crashed); bad input is never this
APP_CRASHED = 1  # the app stopped on an error it did not expect (a bug): its traceback, then one sentence
BAD_INPUT = 2  # one sentence on stderr says what to change
INTERRUPTED = 130  # Ctrl-C: finished runs are stored, the current one as cancelled
PIPE_CLOSED = 141  # the reader of stdout went away (| head); a shell reports SIGPIPE as 128 + 13 too

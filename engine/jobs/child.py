"""A job's child started as a fresh interpreter (`python -m engine.jobs.child`, see engine.jobs.start): reads its
job from the pipe on its stdin, trains it as a forked child would, and listens on the same pipe for its worker's
signals. When the pipe closes while it trains, its worker has ended (a kill -9, a crash): it stops at once, as a
forked child does on Linux, and the next look at the queue stores its run as interrupted."""

from __future__ import annotations

import _thread
import os
import pickle
import signal
import sys
from typing import NoReturn

from engine.jobs import start


def main() -> NoReturn:
    pipe = sys.stdin.buffer
    try:
        train, payload = pickle.load(pipe)  # `train` by name: its module (engine.jobs.worker) imports torch
    except (EOFError, pickle.UnpicklingError):  # the worker has gone, or could not send the job: no run began
        leave()

    def listening() -> None:  # a signal from the worker reaches the main thread's handler as if sent by the system
        start.listen(pipe, lambda signum: _thread.interrupt_main(signal.Signals(signum)), leave)

    os._exit(train(*payload, listening=listening))


def leave() -> NoReturn:
    """Stop at once, as a forked child does on its worker's end (PR_SET_PDEATHSIG): nobody would record the run."""
    os._exit(1)


if __name__ == "__main__":
    main()

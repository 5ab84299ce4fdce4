"""Prints the accelerator a `--device` choice resolves to. The app runs it as a child process after its first
screen is up, so that it never imports torch itself."""

from __future__ import annotations

import sys

from engine.errors import UserError

NO_DEVICE = "no device: "  # how the answer begins when --device names one this machine lacks


def main(argv: list[str]) -> int:
    from engine.training.device import describe_device, resolve_device

    try:
        print(describe_device(resolve_device(argv[0] if argv else "auto")))
    except UserError as error:
        print(f"{NO_DEVICE}{error}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Downloads one file into place over HTTP, checked against a known hash, reporting progress as it goes.

A failed or unverified download leaves nothing behind: bytes go to a .part file that is renamed only once
its hash matches."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from engine.errors import UserError
from engine.paths import make_folder

Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0 when unknown)


def fetch(url: str, destination: Path, algorithm: str, expected: str, on_progress: Progress | None = None,
          way_out: str = "") -> None:
    """`expected` may be a prefix of the hex digest (torch.hub names weights files by their sha256 prefix);
    `way_out` ends the error sentences with what else the user can do."""
    by_hand = f"put {destination.name} ({algorithm} {expected}) into {destination.parent} by hand{way_out}"
    make_folder(destination.parent, destination.name, by_hand)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.new(algorithm)
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_progress:
                    on_progress(done, total)
        if total and done < total:
            raise ConnectionError(f"the server closed the connection after {done} of {total} bytes")
    except (urllib.error.URLError, OSError, ConnectionError) as error:
        partial.unlink(missing_ok=True)
        raise UserError(f"Downloading {url} failed ({getattr(error, 'reason', error)}); {by_hand}.") from None
    if not digest.hexdigest().startswith(expected):
        partial.unlink(missing_ok=True)
        raise UserError(f"The file downloaded from {url} has {algorithm} {digest.hexdigest()}, not {expected}, so it "
                        f"was deleted; try again later or {by_hand}.")
    partial.replace(destination)

"""The real download code against a real HTTP server on 127.0.0.1: a good file, a wrong checksum, a transfer cut
short, and no server at all. Nothing may be left behind but a complete, checked file."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading

import numpy as np
import pytest

from engine import paths
from engine.errors import UserError
from engine.training import data
from tests.conftest import medmnist_arrays


def small_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **medmnist_arrays())
    return buffer.getvalue()


@pytest.fixture
def serve():
    """serve(body, sent=None) -> URL: every GET announces len(body) bytes and sends `sent` of them (all by
    default), then closes the connection, as a server that goes away mid-transfer would."""
    servers = []

    def start(body: bytes, sent: int | None = None) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:sent])

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for serve_forever's next poll: half a second of every test at the default interval
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/dermamnist.npz"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A local port nothing listens on: connecting is refused at once, like a machine with no network."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/dermamnist.npz"


def leftovers(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_a_good_download_is_checked_moved_into_place_and_readable(serve, tmp_path):
    body = small_npz()
    destination = tmp_path / "data" / paths.FILE_NAME
    progress = []
    data.download(serve(body), hashlib.md5(body).hexdigest(), destination,
                  lambda done, total: progress.append((done, total)))
    assert leftovers(destination.parent) == [paths.FILE_NAME] and destination.read_bytes() == body
    assert progress[-1] == (len(body), len(body))
    assert len(data.read_npz(destination, source="test").labels["val"]) == len(medmnist_arrays()["val_labels"])


def test_a_wrong_checksum_is_refused_the_file_deleted_and_the_reason_given(serve, refused, dermalab_home, monkeypatch):
    body = small_npz()  # served in place of DermaMNIST, so its MD5 cannot match the published one
    monkeypatch.setenv("DERMALAB_DATA_URL", serve(body))
    message = refused("run", "1", "--data", "auto")
    assert f"has md5 {hashlib.md5(body).hexdigest()}, not {paths.DERMAMNIST_MD5}" in message and "deleted" in message
    assert leftovers(dermalab_home / "data") == []


def test_a_server_gone_mid_transfer_leaves_no_partial_file(serve, tmp_path):
    body = small_npz()
    url = serve(body, sent=len(body) // 2)
    destination = tmp_path / "data" / paths.FILE_NAME
    with pytest.raises(UserError) as refusal:
        data.download(url, hashlib.md5(body).hexdigest(), destination)
    assert f"after {len(body) // 2} of {len(body)} bytes" in str(refusal.value)
    assert leftovers(destination.parent) == []


def test_no_network_names_the_url_the_md5_and_where_to_put_the_file(refused, dermalab_home, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv("DERMALAB_DATA_URL", url)
    message = refused("run", "1", "--data", "auto")
    assert url in message and paths.DERMAMNIST_MD5 in message and f"into {dermalab_home / 'data'} by hand" in message
    assert leftovers(dermalab_home / "data") == []


def test_weights_are_checked_against_the_sha256_prefix_in_their_name(serve, tmp_path):
    # torch.hub names weights files by the start of their sha256 (resnet18-f37072fd.pth); fetch checks the same.
    import torch

    from engine.training.fetch import fetch
    from engine.training.models import HASH_IN_NAME

    buffer = io.BytesIO()
    torch.save({"fc.bias": torch.zeros(7)}, buffer)
    body = buffer.getvalue()
    name = f"tiny-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    destination = tmp_path / "checkpoints" / name
    fetch(serve(body), destination, "sha256", HASH_IN_NAME.search(name).group(1))
    assert torch.load(destination, weights_only=True)["fc.bias"].shape == (7,)
    with pytest.raises(UserError, match=r"has sha256 [0-9a-f]{64}, not 00000000, so it was deleted"):
        fetch(serve(body), tmp_path / "checkpoints" / "tiny-00000000.pth", "sha256", "00000000")
    assert leftovers(destination.parent) == [name]


def test_the_file_comes_from_medmnist_whose_record_the_app_names():
    from medmnist import INFO

    assert data.medmnist_source() == (INFO["dermamnist"]["url"], INFO["dermamnist"]["MD5"])
    assert data.medmnist_source() == (paths.DERMAMNIST_URL, paths.DERMAMNIST_MD5)  # the copy shown before torch loads


def test_the_download_is_checked_against_medmnists_md5(serve, refused, monkeypatch):
    from engine import classes

    # were the record to change, the check follows it (the lab reads medmnist's INFO through engine.datasets)
    monkeypatch.setitem(classes.info()["dermamnist"], "MD5", "0" * 32)
    monkeypatch.setenv("DERMALAB_DATA_URL", serve(small_npz()))
    assert f", not {'0' * 32}, so it was deleted" in refused("run", "1", "--data", "auto")

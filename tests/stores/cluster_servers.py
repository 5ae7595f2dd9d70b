"""A real Redis Cluster of three masters on loopback, for the store tests of one run.

Each node is a `redis-server --cluster-enabled yes` on ports picked free at start (its
client port and its cluster bus port), with its files in a directory of its own, so two
copies of the suite running at once each get a cluster of their own. A port another
process takes between the pick and the start makes that node exit: it is then started
again on other ports. Given certificates, the nodes speak only TLS, to clients and
to each other.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.external_servers import REQUIRE_SERVICES
from tests.stores.tls_certificates import TLSFiles

MASTERS = 3
START_ATTEMPTS = 5
SETUP_SECONDS = 60.0
"""How long starting the nodes and forming the cluster may take on a busy machine."""


def need_redis_programs() -> None:
    """Skip (or, under `DEXTER_REQUIRE_SERVICES`, fail) without `redis-server`/`redis-cli`."""
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed: no Redis Cluster to test against"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and DEXTER_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(message)


def start_server(
    directory: Path, tls: TLSFiles | None = None, *, cluster: bool = False
) -> tuple[int, subprocess.Popen[bytes]]:
    """A `redis-server` on free ports, its files in `directory`: its port and process.
    Started again on other ports while another process takes them first."""
    for attempt in range(START_ATTEMPTS):
        port = _free_port()
        node_dir = directory / f"{attempt}-{port}"
        node_dir.mkdir(parents=True)
        cluster_options = [
            "--cluster-enabled", "yes",
            "--cluster-port", str(_free_port()),
            "--cluster-config-file", str(node_dir / "nodes.conf"),
        ] if cluster else []  # fmt: skip
        process = subprocess.Popen(
            [
                "redis-server",
                *_listening(port, tls),
                "--bind", "127.0.0.1",
                *cluster_options,
                "--dir", str(node_dir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if _serving(process, port, tls):
            return port, process
        process.kill()
        process.wait()
    raise RuntimeError(f"redis-server found no free ports in {START_ATTEMPTS} tries")


def cli(port: int, tls: TLSFiles | None, *command: str) -> str:
    """What `redis-cli` prints for `command` sent to the server on `port`."""
    done = subprocess.run(
        ["redis-cli", *_cli_tls(tls), "-h", "127.0.0.1", "-p", str(port), *command],
        capture_output=True,
        text=True,
        timeout=SETUP_SECONDS,
    )
    return done.stdout


class LocalRedisCluster:
    """Three cluster-enabled `redis-server` processes joined into one cluster."""

    def __init__(self, directory: Path, tls: TLSFiles | None = None) -> None:
        self.directory = directory
        self.tls = tls
        self.ports: list[int] = []
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The store URL: one node; the client finds the others."""
        if self.tls is None:
            return f"redis+cluster://127.0.0.1:{self.ports[0]}"
        return f"rediss+cluster://127.0.0.1:{self.ports[0]}?ssl_ca_certs={self.tls.ca}"

    def start(self) -> None:
        for _ in range(MASTERS):
            port, process = start_server(self.directory, self.tls, cluster=True)
            self.ports.append(port)
            self._processes.append(process)
        subprocess.run(
            [
                "redis-cli", *_cli_tls(self.tls), "--cluster", "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=SETUP_SECONDS,
        )  # fmt: skip
        deadline = time.monotonic() + SETUP_SECONDS
        while not all(
            "cluster_state:ok" in cli(port, self.tls, "cluster", "info") for port in self.ports
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis Cluster on {self.ports} did not reach cluster_state:ok")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self._processes:
            process.kill()
            process.wait()
        self._processes = []
        self.ports = []


def _serving(process: subprocess.Popen[bytes], port: int, tls: TLSFiles | None) -> bool:
    """Whether `process` itself (not another program that took the port) answers on it."""
    deadline = time.monotonic() + SETUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if f"process_id:{process.pid}" in cli(port, tls, "info", "server"):
            return True
        time.sleep(0.05)
    return False


def _listening(port: int, tls: TLSFiles | None) -> list[str]:
    """Where the server listens: plain, or TLS only (the cluster bus too)."""
    if tls is None:
        return ["--port", str(port)]
    return [
        "--port", "0",
        "--tls-port", str(port),
        "--tls-cluster", "yes",
        "--tls-cert-file", str(tls.certificate),
        "--tls-key-file", str(tls.key),
        "--tls-ca-cert-file", str(tls.ca),
        "--tls-auth-clients", "no",
    ]  # fmt: skip


def _cli_tls(tls: TLSFiles | None) -> list[str]:
    return [] if tls is None else ["--tls", "--cacert", str(tls.ca)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

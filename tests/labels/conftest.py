"""Fixtures for the label tests: a stand-in session, the sentence model (loaded once), and a
throwaway PostgreSQL server started from Debian's postgresql package on 127.0.0.1."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from label_fakes import FakeSession

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

@pytest.fixture
def session():
    return FakeSession()


@pytest.fixture(scope="session")
def embedder():
    from camwidget.labels.text import load_embedder

    return load_embedder(None)


# -- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bindir() -> str | None:
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(f"{d}/initdb")]
    if found:
        return max(found, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """Start a throwaway PostgreSQL server; yield its base URL (database ``postgres``)."""
    bindir = _pg_bindir()
    if bindir is None or not os.path.exists(f"{bindir}/pg_ctl"):
        message = "Debian's postgresql package is not installed (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must run the PostgreSQL label-store tests")
        pytest.skip(message)

    root = Path(tempfile.mkdtemp(prefix="camwidget-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()
    subprocess.run(prefix + [f"{bindir}/initdb", "-D", str(data), "-U", "camwidget", "--auth=trust",
                             "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    # a non-UTC server zone, so the tests see times come back in UTC anyway
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c timezone=Asia/Tokyo"
    started = subprocess.run(prefix + [f"{bindir}/pg_ctl", "-D", str(data), "-l", str(log), "-o", options,
                                       "-w", "-t", "60", "start"], capture_output=True, text=True)
    if started.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {started.stdout}{started.stderr}")
    try:
        yield f"postgresql+psycopg://camwidget@127.0.0.1:{port}"
    finally:
        subprocess.run(prefix + [f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the throwaway server."""
    import psycopg

    name = f"labels_{uuid.uuid4().hex[:12]}"
    base = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'labels.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request):
    """The URL of an empty store, on each database."""
    return request.getfixturevalue(f"{request.param}_url")


class RestartablePostgres:
    """A PostgreSQL server of one's own (the shared one must not stop under other tests)."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None or not os.path.exists(f"{bindir}/pg_ctl"):
            pytest.skip("Debian's postgresql package is not installed (apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="camwidget-pg-restart-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.bindir, self.data, self.port = bindir, self.root / "data", _free_port()
        subprocess.run(self.prefix + [f"{bindir}/initdb", "-D", str(self.data), "-U", "camwidget",
                                      "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        self.url = f"postgresql+psycopg://camwidget@127.0.0.1:{self.port}/postgres"
        self.start()

    def _ctl(self, *args: str) -> subprocess.CompletedProcess:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        return subprocess.run(self.prefix + [f"{self.bindir}/pg_ctl", "-D", str(self.data), "-l",
                                             str(self.root / "server.log"), "-o", options, "-w", "-t", "60", *args],
                              capture_output=True, text=True, check=False)

    def start(self) -> None:
        started = self._ctl("start")
        assert started.returncode == 0, f"could not start PostgreSQL: {started.stdout}{started.stderr}"

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")

    def remove(self) -> None:
        self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def restartable_postgres():
    """A throwaway PostgreSQL server the test may stop and start again."""
    server = RestartablePostgres()
    try:
        yield server
    finally:
        server.remove()

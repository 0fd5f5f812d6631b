"""A throwaway PostgreSQL cluster for the tests: ``PostgresCluster`` (never a mock).

``initdb`` makes a cluster in a new temporary folder, ``pg_ctl`` starts it on a free port of
127.0.0.1 (its unix socket in that folder too, trust auth), and ``stop()`` (also run at exit,
whatever happened) stops it and removes the folder.  PostgreSQL refuses to run as root: as
root, the binaries run as the ``postgres`` system user (``runuser``), in a folder that user
owns.  Missing binaries raise ``PostgresMissing``, whose message says what to install.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: Where Debian's ``postgresql`` package puts the server binaries (newest first).
_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_SYSTEM_USER = "postgres"
_START_TIMEOUT = 60


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed."""


def find_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (``PG_BIN`` overrides the search)."""
    candidates = [os.environ["PG_BIN"]] if os.environ.get("PG_BIN") else sorted(
        (str(p) for p in Path("/").glob(_BIN_GLOB.lstrip("/"))), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    raise PostgresMissing(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found in "
        f"{_BIN_GLOB} or on PATH: install Debian's `postgresql` package "
        "(apt-get install postgresql) or set PG_BIN to their folder")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One temporary PostgreSQL cluster; ``dsn`` once ``start()`` returned."""

    def __init__(self) -> None:
        self.bin = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="kling-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._started = False
        atexit.register(self.stop)

    @property
    def dsn(self) -> str:
        return f"postgresql://{_SYSTEM_USER if self._as_root else _user()}@127.0.0.1:" \
               f"{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self._as_root:
            command = ["runuser", "-u", _SYSTEM_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_START_TIMEOUT,
                              check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): "
                               f"{done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> str:
        """initdb + pg_ctl start; returns the DSN."""
        if self._as_root:
            shutil.chown(self.root, user=_SYSTEM_USER, group=_SYSTEM_USER)
            self.root.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U",
                  _SYSTEM_USER if self._as_root else _user(), "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", str(_START_TIMEOUT), "start")
        self._started = True
        return self.dsn

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        """Stop the server (immediately) and remove its folder; idempotent."""
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _user() -> str:
    import getpass

    return getpass.getuser()

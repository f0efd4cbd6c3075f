"""Real servers started in a temporary folder on 127.0.0.1, for the deployment tests and benches.

Each finds its program on the machine and says plainly when it cannot: the tests skip with that
message (never a silent pass), and `make test` installs the programs when it runs as root.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServiceUnavailable(RuntimeError):
    """The server's program is not on this machine (or cannot run here); the message says why."""


def postgres_bindir() -> Path | None:
    """The folder of initdb/pg_ctl: `pg_config --bindir`, else the newest Debian cluster version."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        folder = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (folder / "initdb").is_file():
            return folder
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


class PostgresServer:
    """A throwaway PostgreSQL cluster: its own data folder, a free port of 127.0.0.1, trust
    authentication for the `dagster` role, and one database `dagster`; stopped and deleted on exit.

    PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` system user
    that Debian's package creates (commands run through `runuser`)."""

    def __init__(self, role: str = "dagster", database: str = "dagster") -> None:
        self.role, self.database = role, database
        self.port = free_port()
        self.folder: Path | None = None
        self._bin = postgres_bindir()
        self._as_user: list[str] = []

    @property
    def url(self) -> str:
        """The libpq address (psql, psycopg2.connect)."""
        return f"postgresql://{self.role}@127.0.0.1:{self.port}/{self.database}"

    @property
    def sqlalchemy_url(self) -> str:
        """The address for SHOPINSIGHT_PG_URL: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3,
        and dagster-postgres installs psycopg2."""
        return self.url.replace("postgresql://", "postgresql+psycopg2://", 1)

    def __enter__(self) -> "PostgresServer":
        if self._bin is None:
            raise ServiceUnavailable(
                "PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
                "`make test` installs Debian's postgresql when run as root"
            )
        # a folder of its own in /tmp (a root-only pytest folder is not reachable by the postgres user)
        self.folder = Path(tempfile.mkdtemp(prefix="shopinsight-postgres-"))
        if os.geteuid() == 0:
            if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
                raise ServiceUnavailable("running as root and there is no `postgres` user to run PostgreSQL as")
            shutil.chown(self.folder, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data, log = self.folder / "data", self.folder / "server.log"
        self._run("initdb", "-D", str(data), "-U", self.role, "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        try:
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(data), "-l", str(log), "-o", settings)
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.role, self.database)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(data), check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def _run(self, program: str, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        assert self._bin is not None
        done = subprocess.run(
            [*self._as_user, str(self._bin / program), *arguments], capture_output=True, text=True, timeout=120
        )
        if check and done.returncode:
            log = self.folder / "server.log" if self.folder else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")
        return done


class _ServerProcess:
    """A server program run as a child process of its own, its log in a temporary folder: started
    until `ready()` answers, stopped and cleaned up whatever happens."""

    what = "the server"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None

    def ready(self) -> bool:
        raise NotImplementedError

    def _start(self, command: list[str], timeout: float = 60) -> None:
        import time

        assert self.folder is not None
        log = self.folder / "server.log"
        self.process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-2000:]
                self.__exit__()
                raise RuntimeError(f"{self.what} did not start: {tail}")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class ObjectStoreServer(_ServerProcess):
    """An S3-compatible server (moto's standalone server, a process of its own) on a free port of
    127.0.0.1, with one bucket. `environment` is what a process needs to reach it the way it would
    reach a real store: the endpoint and credentials, read by s3fs, pyarrow, polars and DuckDB alike."""

    what = "moto's server"

    def __init__(self, bucket: str = "shopinsight") -> None:
        super().__init__()
        self.bucket = bucket

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "shopinsight-test",
            "AWS_SECRET_ACCESS_KEY": "shopinsight-test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",  # polars' object_store refuses plain http without it
            "AWS_EC2_METADATA_DISABLED": "true",  # no credential probing of a cloud metadata service
        }

    def ready(self) -> bool:
        import urllib.request

        try:
            urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2)
            return True
        except OSError:
            return False

    def __enter__(self) -> "ObjectStoreServer":
        import sys
        import urllib.request

        try:
            import moto.server  # noqa: F401
        except ImportError as missing:
            raise ServiceUnavailable(
                f"moto's server is not installed ({missing}): pip install 'moto[server]'"
            ) from None
        self.folder = Path(tempfile.mkdtemp(prefix="shopinsight-s3-"))
        self._start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)])
        request = urllib.request.Request(f"{self.endpoint}/{self.bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=10)
        return self


class RedisServer(_ServerProcess):
    """A throwaway Redis (Debian's redis-server) on a free port of 127.0.0.1, nothing persisted:
    the broker and result backend of the Celery executor's test."""

    what = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> "RedisServer":
        program = shutil.which("redis-server")
        if program is None:
            raise ServiceUnavailable("redis-server is not installed (`make test` installs Debian's as root)")
        self.folder = Path(tempfile.mkdtemp(prefix="shopinsight-redis-"))
        command = [program, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self._start([*command, "--dir", str(self.folder)], timeout=30)
        return self

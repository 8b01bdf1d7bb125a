"""The jvm engine's Elasticsearch: consumes an unpacked node and a port, produces one single-node cluster (security
off, pinned heap, run by a dedicated user when started as root) whose config, data, logs and pid live in its run
folder."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from surgewatch.stack import processes
from surgewatch.stack.base import StackError
from surgewatch.stack.jvm.kafka import free_port

NODE_SETTINGS = {
    "cluster.name": "surgewatch-local",
    "node.name": "surgewatch-local-1",
    "discovery.type": "single-node",
    "network.host": "127.0.0.1",
    "xpack.security.enabled": "false",
    "action.destructive_requires_name": "false",
    "cluster.routing.allocation.disk.threshold_enabled": "false",
}


def ensure_user(name: str) -> str:
    """A system user to run Elasticsearch as (it refuses root); created when missing."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        proc = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                               "/usr/sbin/nologin", name], capture_output=True, text=True)
        if proc.returncode != 0 and "already exists" not in proc.stderr:
            raise StackError(f"cannot create the user {name} to run Elasticsearch (it refuses root): "
                             f"{proc.stderr.strip()}")
    return name


def reachable_by_others(path: Path) -> bool:
    """Every parent folder of `path` can be traversed by another user."""
    for parent in [path.resolve(), *path.resolve().parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            return False
    return True



def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


class ElasticsearchNode:
    def __init__(self, run_dir: Path, home: Path, port: int, heap_mb: int, java_home: str,
                 user: str) -> None:
        self.dir, self.home, self.port, self.heap_mb = run_dir.resolve(), home.resolve(), port, heap_mb
        self.java_home, self.user = java_home, user
        self.conf = self.dir / "config"
        self.pid_file = self.dir / "elasticsearch.pid"
        self.log_file = self.dir / "elasticsearch.out"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return processes.read_pid(self.pid_file)

    def _configure(self) -> None:
        if not self.conf.exists():
            shutil.copytree(self.home / "config", self.conf)
        old = self._settings()
        tport = old.get("transport.port") or str(free_port())
        conf = {**NODE_SETTINGS, "http.port": str(self.port), "transport.port": tport,
                "path.data": str(self.dir / "data"), "path.logs": str(self.dir / "logs")}
        (self.conf / "elasticsearch.yml").write_text("".join(f"{k}: {v}\n" for k, v in conf.items()))
        (self.conf / "jvm.options.d").mkdir(exist_ok=True)
        (self.conf / "jvm.options.d" / "heap.options").write_text(f"-Xms{self.heap_mb}m\n-Xmx{self.heap_mb}m\n")
        for sub in ("data", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)

    def _settings(self) -> dict[str, str]:
        path = self.conf / "elasticsearch.yml"
        if not path.exists():
            return {}
        pairs = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
        return {k.strip(): v.strip() for k, v in pairs}

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        user = ensure_user(self.user)
        for path in (self.home, self.dir):
            if not reachable_by_others(path):
                raise StackError(f"{path} is not readable by the user {user} that runs Elasticsearch: make its "
                                 "parent folders world-traversable, or set SURGEWATCH_STACK_DIR / "
                                 "SURGEWATCH_STACK_CACHE_DIR under such a folder")
        entry = pwd.getpwnam(user)
        _chown_tree(self.dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(["chmod", "-R", "a+rX", str(self.home)], check=False)
        return user

    def start(self) -> int:
        self._configure()
        user = self._run_as()
        env = {"ES_JAVA_HOME": self.java_home, "ES_PATH_CONF": str(self.conf), "ES_JAVA_OPTS": "",
               "ES_TMPDIR": str(self.dir / "tmp")}
        (self.dir / "tmp").mkdir(exist_ok=True)
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.dir / "tmp", entry.pw_uid, entry.pw_gid)
        return processes.start([str(self.home / "bin" / "elasticsearch")], self.pid_file, self.log_file, env, user)

    def stop(self) -> bool:
        return processes.stop(self.pid_file, grace=60.0)

    def kill(self) -> bool:
        return processes.kill(self.pid_file)

"""Server processes of the local stack: consumes a command line and a pid file, produces a detached process group
that `stop` ends exactly (SIGTERM, then SIGKILL after a grace period) and `kill` ends at once."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    """The pid written by `start`, when that very process still runs (its start time guards against pid reuse)."""
    try:
        pid_text, _, started = pid_file.read_text().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _start_ticks(pid) == started.strip() else None


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]; [] when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_ticks(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def start(cmd: list[str], pid_file: Path, log_file: Path, env: dict[str, str] | None = None,
          user: str | None = None) -> int:
    """Start `cmd` in its own session (so its children form one process group); write its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True,
                                user=user, group=user, extra_groups=[] if user else None)
    pid_file.write_text(f"{proc.pid} {_start_ticks(proc.pid)}\n")
    return proc.pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in Path("/proc").iterdir():     # members that are all zombies count as gone
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(pid_file: Path, grace: float = 30.0) -> bool:
    """End the process group started from `pid_file`; True when something was running."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if _group_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while _group_alive(pid) and time.monotonic() < deadline + 10:
            _reap(pid)
            time.sleep(0.1)
    _reap(pid)
    pid_file.unlink(missing_ok=True)
    return True


def kill(pid_file: Path) -> bool:
    """SIGKILL the process group at once (fault injection); True when something was running."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _group_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    _reap(pid)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass

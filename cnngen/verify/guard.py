"""The process between ``cnngen verify`` and the file under test: it contains the run.

``cnngen verify`` runs foreign code, so the run is fenced in three ways:

* **Lifetime.**  The parent holds the write end of a *life pipe* whose read
  end this guard watches.  However the parent ends (an exception, Ctrl-C,
  ``timeout``'s SIGTERM, even SIGKILL) the kernel closes that pipe; the guard
  then kills the worker's process group, every process the file forked (on
  Linux the guard is a child subreaper, so orphans of the worker become its
  children and are killed too), removes the temporary folder and exits.  The
  worker dies with the guard as well (``PR_SET_PDEATHSIG``).
* **Resources.**  The worker gets a CPU-time limit (a backstop behind the
  wall-clock ``--timeout``), an optional memory cap (``RLIMIT_DATA``, which
  counts the heap and private mappings but not CUDA's address-space
  reservations) and no core files.
* **The verdict.**  The report travels over an inherited pipe, not a file the
  file under test could name: the worker moves the pipe to a fresh descriptor
  and forgets the number it was given before importing the file, and every
  message carries a per-run nonce the parent sent over the life pipe (never in
  argv or the environment).  The parent accepts only well-formed messages with
  that nonce, in sequence, ending in a completed run and a clean exit.

This is containment against accidents and simple tricks (a file that hangs,
forks, writes a fake report or prints fake progress and exits 0), not a
sandbox: the file runs with the user's rights, and code that sets out to
patch the verifier inside its own process can still lie.

This module never imports torch; the worker imports it after the fork.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.05


def _prctl(option: int, value: int) -> bool:
    """Linux prctl through ctypes; False where it does not exist."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(option, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc); empty elsewhere."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:
            continue
        # The command name may hold spaces or parentheses; fields follow the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(name))
    return found


def _reap() -> None:
    """Collect every child that has exited, so none lingers as a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_tree(group: int | None) -> None:
    """Kill the worker's process group and every descendant left behind.

    As a subreaper the guard inherits whatever the worker forked once the
    worker is gone, so repeating until it has no children catches processes
    that left the group (``setsid``) or were forked mid-kill.
    """
    me = os.getpid()
    deadline = time.monotonic() + 10
    while True:
        if group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for pid in _children(me):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) != os.getpgrp():
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        _reap()
        if not _children(me) or time.monotonic() > deadline:
            _reap()
            return


def limit_resources(cpu_seconds: int | None, memory_bytes: int | None) -> None:
    """Resource limits for the worker, applied after the fork and before any import."""
    import resource

    def lower(kind: int, value: int) -> None:
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (value, hard))

    lower(resource.RLIMIT_CORE, 0)
    if cpu_seconds is not None:
        lower(resource.RLIMIT_CPU, cpu_seconds)
    if memory_bytes is not None:
        lower(resource.RLIMIT_DATA, memory_bytes)


@contextlib.contextmanager
def scratch_folder() -> Iterator[str]:
    """The worker's working and temporary folder, removed whatever happens to the run."""
    folder = tempfile.mkdtemp(prefix="cnngen-verify-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_nonce(life: int) -> str:
    """The first line on the life pipe is this run's nonce; the pipe then stays open."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(life, 64)
        if not chunk:
            raise SystemExit(3)  # the parent went away before the run began
        data += chunk
    return data.decode("ascii").strip()


def worker(args: argparse.Namespace, nonce: str, folder: str, guard: int) -> int:
    """In the forked worker: fence it in, then run the checks (this imports torch)."""
    os.setpgid(0, 0)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != guard:  # the guard died before the line above took effect
        os._exit(3)
    os.close(args.life)
    # Move the report pipe to a descriptor nobody was told about.
    channel = os.dup(args.report)
    os.close(args.report)
    limit_resources(args.cpu_seconds, args.max_memory)
    os.chdir(folder)
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder
    # The file sees itself as the program, as under `python FILE`; nothing else.
    sys.argv = [args.file]
    from cnngen.verify.child import Channel, main

    return main(args.child_args, Channel(channel, nonce))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cnngen.verify.guard")
    parser.add_argument("--life", type=int, required=True)
    parser.add_argument("--report", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, default=None)
    parser.add_argument("--max-memory", type=int, default=None)
    parser.add_argument("file")
    parser.add_argument("child_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    args.child_args = [args.file, *[a for a in args.child_args if a != "--"]]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    nonce = read_nonce(args.life)
    subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    guard = os.getpid()
    with scratch_folder() as folder:
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = worker(args, nonce, folder, guard)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        # Tell the parent which group to kill should this guard itself be killed.
        with contextlib.suppress(OSError):
            message = json.dumps({"kind": "worker", "pid": pid})
            os.write(args.report, f"{nonce} {message}\n".encode())
        os.close(args.report)
        status = None
        try:
            while status is None:
                ready, _, _ = select.select([args.life], [], [], POLL_SECONDS)
                if ready and not os.read(args.life, 64):
                    break  # the parent is gone or asked us to stop
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = code
        finally:
            # Whatever happened, nothing the file started outlives the run.
            kill_tree(pid)
            if not subreaper:
                _reap()
    if status is None:
        return 124
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())

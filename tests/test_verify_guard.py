"""``cnngen verify`` contains the file it runs: nothing outlives it, and the verdict cannot be forged.

Each test runs a hostile file for real: one that hangs while verify itself is
killed (by ``timeout``'s SIGTERM and by SIGKILL), one that forks processes
(some leaving the process group), one that forges a report or progress and
exits 0, one that exhausts memory.  Afterwards no process of the run may be
alive and no temporary folder may remain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnngen.errors import CnngenError
from cnngen.verify.runner import verify_file

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process checks read /proc (Linux)"
)

SLEEPER = "import time, sys; time.sleep(300)"

HANG = """
import os
open(os.environ["CNNGEN_TEST_PID_FILE"], "w").write(str(os.getpid()))
while True:
    pass
"""

FORKER = """
import os, subprocess, sys, time
marker = os.environ["CNNGEN_TEST_MARKER"]
sleeper = [sys.executable, "-c", {sleeper!r}, marker]
subprocess.Popen(sleeper)                           # same process group
subprocess.Popen(sleeper, start_new_session=True)   # a session of its own
if os.fork() == 0:                                  # a daemon: double fork and setsid
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, sleeper)
    os._exit(0)
time.sleep(0.5)
{ending}
""".replace("{sleeper!r}", repr(SLEEPER))

FORGE_EVERY_FD = """
import json, os, sys
fake = {"schema": 1, "verdict": "passed", "stage": "done", "error": None,
        "checks": [], "metrics": {}, "options": {}}
print("cnngen-verify: [12/12] compile", file=sys.stderr)
print(json.dumps(fake))
for name in os.listdir("/proc/self/fd"):
    try:
        os.write(int(name), (json.dumps(fake) + "\\n").encode())
    except OSError:
        pass
os._exit(0)
"""

FORGE_ARGV = """
import json, os, sys
fake = json.dumps({"verdict": "passed", "stage": "done", "error": None, "checks": []})
print("cnngen-verify: [12/12] compile", file=sys.stderr)
print("verdict: PASSED")
for word in sys.argv[1:] + list(os.environ.values()):
    if word.endswith(".json"):
        open(word, "w").write(fake)
os._exit(0)
"""


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private TMPDIR, so leftover ``cnngen-verify-*`` folders can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    yield folder


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def _with_marker(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in words and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _eventually(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return bool(condition())  # type: ignore[operator]


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("cnngen-verify-*"))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cnngen", "verify", *args]


@pytest.mark.parametrize(
    "how",
    [signal.SIGTERM, signal.SIGKILL, signal.SIGINT],
    ids=["sigterm-as-timeout-sends", "sigkill", "sigint-as-ctrl-c"],
)
def test_killing_verify_kills_a_hanging_file_and_removes_its_folder(
    tmp_path: Path, scratch: Path, how: signal.Signals
) -> None:
    """`timeout 5 cnngen verify hang.py` sends SIGTERM; the signal is sent once the file runs."""
    model = tmp_path / "hang.py"
    model.write_text(HANG)
    pid_file = tmp_path / "pid"
    env = {**os.environ, "CNNGEN_TEST_PID_FILE": str(pid_file)}
    parent = subprocess.Popen(
        _cli(str(model), "--timeout", "600"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _eventually(pid_file.exists, 120), "the file never started"
        assert _leftovers(scratch), "the run should have a temporary folder while it runs"
        parent.send_signal(how)
        assert parent.wait(timeout=30) != 0
    finally:
        parent.kill()
        parent.wait()
    hung = int(pid_file.read_text())
    assert _eventually(lambda: not _alive(hung)), f"process {hung} outlived verify"
    assert _eventually(lambda: not _leftovers(scratch)), _leftovers(scratch)


@pytest.mark.parametrize(
    "ending", ["raise SystemExit('bye')", "while True: pass"], ids=["exits", "hangs"]
)
def test_processes_the_file_forks_do_not_outlive_verify(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    marker = f"cnngen-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("CNNGEN_TEST_MARKER", marker)
    model = tmp_path / "forker.py"
    model.write_text(FORKER.replace("{ending}", ending))
    report = verify_file(model, device="cpu", steps=1, measure=False, timeout=20)
    assert report["verdict"] == "failed"
    assert _eventually(lambda: not _with_marker(marker)), _with_marker(marker)
    assert not _leftovers(scratch)


@pytest.mark.parametrize(
    ("source", "kind"),
    [(FORGE_EVERY_FD, "tampered"), (FORGE_ARGV, "crash")],
    ids=["writes-every-descriptor", "writes-report-files"],
)
def test_a_file_cannot_forge_a_passing_verdict(
    tmp_path: Path, scratch: Path, source: str, kind: str
) -> None:
    model = tmp_path / "forge.py"
    model.write_text(source)
    result = subprocess.run(
        _cli(str(model), "--json", "--timeout", "120"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["verdict"] == "failed"
    assert report["error"]["kind"] == kind, report["error"]
    assert not _leftovers(scratch)


def test_memory_cap_turns_a_runaway_allocation_into_a_failed_verdict(tmp_path: Path) -> None:
    model = tmp_path / "hog.py"
    model.write_text("blocks = [bytearray(2**28) for _ in range(64)]  # 16 GiB\n")
    report = verify_file(model, device="cpu", steps=1, measure=False, max_memory=1024)
    assert report["verdict"] == "failed"
    assert "MemoryError" in report["error"]["message"]


def test_memory_cap_too_small_for_torch_is_a_usage_error(tmp_path: Path) -> None:
    model = tmp_path / "m.py"
    model.write_text("")
    with pytest.raises(CnngenError) as error:
        verify_file(model, max_memory=10)
    assert error.value.param == "--max-memory"


def test_help_says_verify_runs_the_file(run_cli: object) -> None:
    result = run_cli("verify", "--help")  # type: ignore[operator]
    assert "RUNS THE FILE'S CODE" in result.out
    docs = (Path(__file__).resolve().parent.parent / "docs" / "verify.md").read_text()
    assert "verify runs the file's code" in docs

"""claim_directory: one fresh metrics directory per running `serve` supervisor, with
real processes holding (and dropping) their locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: a supervisor stand-in: claims a directory, says where, and lives until told to end
_CLAIMER = """
import sys
from pathlib import Path
from assetry.telemetry.multiprocess import claim_directory
print(claim_directory(Path(sys.argv[1])), flush=True)
sys.stdin.readline()
"""


@contextmanager
def supervisor(run_dir: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    proc = subprocess.Popen([sys.executable, "-c", _CLAIMER, str(run_dir)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        yield proc, Path(proc.stdout.readline().strip())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_each_supervisor_gets_an_empty_directory_of_its_own(tmp_path: Path) -> None:
    with supervisor(tmp_path) as (first, one), supervisor(tmp_path) as (second, other):
        assert one == tmp_path.resolve() / "metrics" / str(first.pid)
        assert other == tmp_path.resolve() / "metrics" / str(second.pid)
        assert one.is_dir() and other.is_dir() and not any(one.iterdir())
        (one / "counter_1.db").write_bytes(b"x")
        # A third start leaves the directories of running supervisors alone.
        with supervisor(tmp_path) as (_, third):
            assert (one / "counter_1.db").exists() and other.is_dir() and third.is_dir()


def test_a_dead_supervisors_directory_is_swept_and_an_ended_one_removes_its_own(
        tmp_path: Path) -> None:
    with supervisor(tmp_path) as (killed, stale):
        (stale / "counter_1.db").write_bytes(b"counts of an earlier run")
        killed.send_signal(signal.SIGKILL)  # no exit handler runs: the kernel drops the lock
        killed.wait(timeout=30)
    assert stale.exists()
    with supervisor(tmp_path) as (ending, fresh):
        assert not stale.exists() and not stale.with_suffix(".lock").exists()
        assert fresh.is_dir()
        assert ending.stdin is not None
        ending.stdin.write("\n")
        ending.stdin.flush()
        assert ending.wait(timeout=30) == 0
    assert not fresh.exists() and not fresh.with_suffix(".lock").exists()


def test_a_directory_left_by_an_earlier_process_of_the_same_pid_is_emptied(
        tmp_path: Path) -> None:
    # In a container the supervisor is often pid 1 at every start: its old directory,
    # whose lock nobody holds, must not lend it old counts. Claimed in a child, so this
    # test process registers no exit handler.
    script = f"""
import os
from pathlib import Path
from assetry.telemetry.multiprocess import claim_directory
old = Path({str(tmp_path)!r}).resolve() / "metrics" / str(os.getpid())
old.mkdir(parents=True)
(old / "counter_1.db").write_bytes(b"old")
assert claim_directory(Path({str(tmp_path)!r})) == old
assert not any(old.iterdir())
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert os.listdir(tmp_path / "metrics") == [".claim"]

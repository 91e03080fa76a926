import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bilm.parallel import in_parallel

PYTHON_DIR = Path(__file__).resolve().parents[1] / "python"


def _square(x: int) -> int:
    return x * x


def test_results_keep_the_order_of_the_items():
    assert in_parallel(_square, range(5), jobs=2) == [0, 1, 4, 9, 16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent's wait is missing.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and signals by pid")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(PYTHON_DIR)!r})
        from bilm.parallel import in_parallel

        def work(i):
            open(os.path.join({str(tmp_path)!r}, f"worker-{{os.getpid()}}"), "w").close()
            time.sleep(600)

        if __name__ == "__main__":
            in_parallel(work, range(2), jobs=2)
    """)
    (tmp_path / "run.py").write_text(script)  # spawned workers import __main__ from a file
    parent = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            assert parent.poll() is None, "the parent exited before its workers started"
            time.sleep(0.1)
        workers = [int(path.name.removeprefix("worker-")) for path in tmp_path.glob("worker-*")]
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "a worker outlived its killed parent"
    finally:
        parent.kill()
        for path in tmp_path.glob("worker-*"):
            try:
                os.kill(int(path.name.removeprefix("worker-")), signal.SIGKILL)
            except ProcessLookupError:
                pass

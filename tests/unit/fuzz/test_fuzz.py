"""S13: coverage-guided fuzzing (atheris, libFuzzer) of the identifier validators, the partner
signature check and the envelope decoder, for a bounded number of runs each: no crash.

Each target runs in its own process (`atheris.Fuzz()` exits the process when done) from a seed
corpus of well-formed inputs; libFuzzer exits non-zero on any unexpected exception or broken
property, and leaves the input that did it in the test's temporary folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

RUNS = 100_000
MAX_SECONDS = 40


@pytest.mark.parametrize("target", ["citizen_id", "credit_code", "signature", "envelope"])
def test_fuzzing_finds_no_crash(target: str, tmp_path: Path, repo_root: Path) -> None:
    corpus = tmp_path / "corpus"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.unit.fuzz.targets",
            target,
            f"-runs={RUNS}",
            f"-max_total_time={MAX_SECONDS}",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 30,
        check=False,
    )
    log = result.stderr
    done = re.search(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/", log)
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    print(
        f"fuzz {target}: exit {result.returncode}, "
        + (f"{done[1]} runs, coverage {done[2]} edges / {done[3]} features, corpus {done[4]} inputs" if done else "")
        + f", crashes = {len(crashes)}"
    )
    assert result.returncode == 0, log[-4000:]
    assert done is not None and int(done[1]) > 0, log[-2000:]
    assert crashes == []

"""Two-process DDP on the CPU (gloo): Lightning shards the bucketed batches across ranks."""

import json
import subprocess
import sys
from pathlib import Path

import conftest
import pytest

pytestmark = pytest.mark.slow

# The subprocess imports tiny_config from the folder that holds conftest.py (tests/, not this file's folder).
SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from conftest import tiny_config
from seqvae.training.run import fit
fit(tiny_config({corpus!r}, max_epochs=2, accelerator="cpu", devices=2, strategy="ddp"), {out!r})
"""


def test_ddp_on_two_cpu_processes_splits_each_epoch(small_corpus, tmp_path):
    script = tmp_path / "ddp_run.py"
    out = tmp_path / "run"
    script.write_text(SCRIPT.format(tests=str(Path(conftest.__file__).parent), corpus=str(small_corpus), out=str(out)))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    # 320 sentences, batch 32, two ranks: 5 steps per epoch instead of 10.
    assert summary["global_step"] == 10 and summary["epochs"] == 2
    assert Path(summary["best_checkpoint"]).is_file()
    # MI and active units over the posteriors gathered from both ranks, once per validation.
    metrics = (out / "logs" / "version_0" / "metrics.csv").read_text().splitlines()
    header = metrics[0].split(",")
    assert {"val/mi", "val/mi_factorised", "val/au"} <= set(header)
    mi = [row.split(",")[header.index("val/mi")] for row in metrics[1:]]
    assert sum(bool(value) for value in mi) == 2

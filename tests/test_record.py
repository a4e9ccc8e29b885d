import json
import os
import time

from videolstm.cli import main


def test_run_record_sums_job_times_and_names_the_machine(tmp_path):
    bench = tmp_path / "benchmarks" / "pretrain" / "mnist"
    bench.mkdir(parents=True)
    (bench / "future.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    (bench / "composite.tsv").write_text("s\th:m:s\tmax_rss\n30.0\t0:00:30\t100\n")
    old = tmp_path / "benchmarks" / "old.tsv"  # a job of an earlier run: not counted
    old.write_text("s\th:m:s\tmax_rss\n99.0\t0:01:39\t100\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert main(["run-record", "--results", str(tmp_path), "--config", "config/cpu.yaml",
                 "--start", str(time.time() - 65)]) == 0
    rec = json.loads((tmp_path / "run.json").read_text())
    assert 64 <= rec["wall_seconds"] < 120 and rec["wall"].startswith("1 min")
    assert rec["job_seconds"] == {"pretrain/mnist/composite": 30.0, "pretrain/mnist/future": 12.5}
    assert rec["job_seconds_total"] == 42.5 and rec["machine"]["cores"] >= 1

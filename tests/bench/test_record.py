"""bench/record.py: what a benchmark's result file holds, written all at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import record
from bench.record import BenchRun, Figure, Table, ratio

REPO = Path(__file__).resolve().parents[2]


def written(tmp_path: Path, tables: list[Table], **settings: object) -> dict:
    run = BenchRun.start("demo", tmp_path, {"images": 10, **settings})
    return json.loads(run.write(tables).read_text())


def test_a_result_holds_its_tables_command_commit_date_and_machine(tmp_path: Path) -> None:
    tables = [Table("speed", ("step", "time", "against the baseline"), [
        ("export", Figure(8.8, "s", digits=1), ratio(4.2, "majority vote")),
        ("queue", None, "not measured"),
    ])]
    result = written(tmp_path, tables, results_dir=tmp_path)
    assert result["tables"] == {"speed": {
        "columns": ["step", "time", "against the baseline"],
        "rows": [["export", {"value": 8.8, "unit": "s", "digits": 1},
                  {"value": 4.2, "unit": "×", "against": "majority vote"}],
                 ["queue", None, "not measured"]]}}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert (result["bench"], result["commit"], result["format"]) == ("demo", commit, 1)
    assert isinstance(result["dirty"], bool)
    assert result["date"].endswith("+00:00")
    assert result["settings"] == {"images": 10}  # where it was written is no setting
    machine = result["machine"]
    assert machine["cores"] >= 1 and len(machine["load_average"]) == 3
    assert machine["cpu"] and machine["python"].startswith("3.")
    assert machine["torch_threads"] == (sys.modules["torch"].get_num_threads()
                                        if "torch" in sys.modules else None)
    assert list(tmp_path.iterdir()) == [tmp_path / "demo.json"]  # no temporary file left


def test_an_interval_is_kept_beside_its_value(tmp_path: Path) -> None:
    table = Table("seeds", ("model", "leaf accuracy"),
                  [("stack", Figure(0.966, "", digits=3, interval=(0.951, 0.98)))])
    cell = written(tmp_path, [table])["tables"]["seeds"]["rows"][0][1]
    assert cell == {"value": 0.966, "unit": "", "digits": 3, "interval": [0.951, 0.98]}


def test_a_row_with_a_cell_too_few_is_refused(tmp_path: Path) -> None:
    table = Table("speed", ("step", "time"), [("export",)])
    with pytest.raises(ValueError, match=r"table 'speed' row 1: 1 cells for 2 columns"):
        written(tmp_path, [table])
    assert not (tmp_path / "demo.json").exists()


def test_two_tables_of_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two tables share a name"):
        written(tmp_path, [Table("t", ("a",), []), Table("t", ("a",), [])])


def test_the_command_to_measure_again_leaves_out_the_results_folder(monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(REPO / "bench" / "label.py"), "--images", "20",
                                      "--results-dir", "/tmp/x", "--results-dir=/tmp/y"])
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None)
    assert record.rerun_command() == ["python", "bench/label.py", "--images", "20"]


def test_the_cpu_model_is_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                       "model name\t: AMD EPYC 7B13 64-Core Processor\n")
    assert record.cpu_model(cpuinfo) == "AMD EPYC 7B13 64-Core Processor"

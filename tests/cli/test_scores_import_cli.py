"""`scores import` of a large file from the command line: one line for a late bad row, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from tests.cli.test_cli import run
from tests.helpers import table_counts


def _rows(n_models: int) -> list[dict[str, object]]:
    return [
        {
            "model": f"Cli Batch {i:04d}",
            "lab": "Google",
            "release_date": "2025-06",
            "benchmark": key,
            "value": 10 + (i * 3 + j) % 80,
            "reported_by": "third_party",
            "source_url": f"https://bench.example/cli/{i}",
        }
        for i in range(n_models)
        for j, key in enumerate(("hle", "gpqa_diamond"))
    ]


def test_a_late_bad_row_in_a_large_json_file_is_one_line_and_writes_nothing(
    cli_env: str, engine: Engine, tmp_path: Path
) -> None:
    rows = _rows(2_500)  # 5,000 rows: two batches are written before the bad one is read
    rows[4_998] = {**rows[4_998], "benchmark": "gpqa_diamnd"}
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({"format": "phasewatch-observations/1", "observations": rows}))
    before = table_counts(engine)
    code, out, err = run("scores", "import", str(path))
    assert code == 5 and out == "" and err.count("\n") == 1  # 5: not found (docs/cli.md)
    assert err.startswith("error: row 4999: unknown benchmark 'gpqa_diamnd'; did you mean 'gpqa_diamond'")
    assert table_counts(engine) == before

    rows[4_998]["benchmark"] = "gpqa_diamond"
    path.write_text(json.dumps({"format": "phasewatch-observations/1", "observations": rows}))
    code, out, err = run("scores", "import", str(path), "--json")
    assert code == 0, err
    assert json.loads(out) == {"rows": 5000, "new_observations": 5000, "new_models": 2500, "already_present": 0}

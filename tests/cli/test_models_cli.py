"""`models list/show/history`: pages with a hint on stderr, the same rows in every format, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from phasewatch.cli import common
from tests.cli.test_cli import run


def _names_in_table(out: str) -> list[str]:
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]


def test_the_default_page_says_what_is_left_and_how_to_see_it(cli_env: str) -> None:
    everything = json.loads(run("models", "list", "--all", "--json")[1])
    total = len(everything)
    assert total > 100
    code, out, err = run("models", "list", "--json")
    first = json.loads(out)  # stdout stays pure JSON; the hint is on stderr
    assert code == 0 and len(first) == 50 and first == everything[:50]
    assert err == f"{total - 50} more models after these 50: --offset 50 for the next page, --all for all {total}\n"
    second = json.loads(run("models", "list", "--json", "--offset", "50", "--limit", "30")[1])
    assert second == everything[50:80]
    assert json.loads(run("models", "list", "--json", "--limit", "0")[1]) == everything
    code, out, err = run("models", "list", "--json", "--offset", str(total - 3))
    assert json.loads(out) == everything[-3:] and err == ""
    code, out, err = run("models", "list", "--offset", str(total + 10))
    assert code == 0 and err == f"no model at --offset {total + 10}: {total} models match\n"


@pytest.mark.parametrize("page", [[], ["--offset", "60", "--limit", "25"]])
def test_table_json_and_csv_show_the_same_page(cli_env: str, page: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rows = json.loads(run("models", "list", "--json", *page)[1])
    _, table, _ = run("models", "list", *page)
    _, text, _ = run("models", "list", "--format", "csv", *page)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["model"] for r in parsed] == [r["name"] for r in rows]
    assert _names_in_table(table)[: len(rows)] == [r["name"] for r in rows]  # no name wraps at 200 columns
    for row, line in zip(rows, parsed, strict=True):  # csv: every benchmark, full values
        for key, values in row["scores"].items():
            assert json.loads(line[key]) == values
        assert int(line["obs"]) == row["observations"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "list", "--kind", "huge"], "'huge' is not one of 'frontier', 'base'"),
        (["models", "list", "--limit", "-1"], "--limit must be 0 or more"),
        (["models", "list", "--offset", "-1"], "--offset must be 0 or more"),
        (["models", "list", "--format", "xml"], "--format must be table, json or csv"),
        (["models", "show", "o3", "--format", "yaml"], "--format must be table, json or csv"),
        (["models", "history", "o3", "--format", "yaml"], "--format must be table, json or csv"),
    ],
)
def test_bad_options_are_one_line(cli_env: str, args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_show_and_history_in_every_format(cli_env: str) -> None:
    detail = json.loads(run("models", "show", "Claude Opus 4.6", "--format", "json")[1])
    assert detail == json.loads(run("models", "show", "Claude Opus 4.6", "--json")[1])
    lines = list(csv.DictReader(io.StringIO(run("models", "show", "Claude Opus 4.6", "--format", "csv")[1])))
    assert [(r["benchmark"], float(r["value"]), r["source_url"]) for r in lines] == [
        (o["benchmark"], o["value"], o["source_url"]) for o in detail["observations"]
    ]
    assert {r["model"] for r in lines} == {"Claude Opus 4.6"}
    assert [r["panels"].split("|") for r in lines] == [o["panels"] for o in detail["observations"]]
    assert json.loads(run("models", "history", "Claude Opus 4.6", "--format", "json")[1]) == []
    assert run("models", "history", "Claude Opus 4.6", "--format", "csv")[1] == "on,field,old,new,reason,source\n"
    assert run("models", "history", "Claude Opus 4.6")[1] == "Claude Opus 4.6: no corrections recorded\n"


def test_history_at_80_columns_keeps_words_whole(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = "the lab's erratum corrected the headline figure after a grader bug"
    code, _, err = run(
        "releases",
        "correct",
        "Claude Opus 4.6",
        "--reason",
        reason,
        "--score",
        "gpqa_diamond=90.5",
        "--reported-by",
        "lab",
        "--source",
        "https://www.anthropic.com/news/claude-opus-4-6-erratum-for-the-gpqa-diamond-figure",
    )
    assert code == 0, err
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(common, "_console", None)
    code, out, _ = run("models", "history", "Claude Opus 4.6")
    assert code == 0 and all(len(line) <= 80 for line in out.splitlines())
    words = set(reason.split()) | {"score:gpqa_diamond", "90.5", "on", "field", "old", "new", "reason", "source"}
    cells = [t for line in out.splitlines()[1:] for cell in line.split("│") for t in cell.split()]
    for token in cells:
        if token.endswith("…") or set(token) <= set("━─┏┓┗┛┡┩└┘┳┻╇┴┬┼╋┃"):
            continue
        assert token in words or token.startswith(("2026-", "https://")) or token.replace(".", "").isdigit(), token
    data = json.loads(run("models", "history", "Claude Opus 4.6", "--json")[1])
    assert [(h["field"], h["new"], h["reason"]) for h in data] == [("score:gpqa_diamond", "90.5", reason)]

"""``chatkit report``: tables, JSON, CSV, charts, HTML, rebuild and exports, on a SQLite file."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import anyio
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from chatkit import AsyncChatKit
from chatkit.cli import app

from .test_reports import DAY, scripted_day

runner = CliRunner()
RANGE = ["--start", DAY.isoformat(), "--end", (DAY + timedelta(days=1)).isoformat()]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'support.db'}"

    async def fill() -> None:
        async with AsyncChatKit(url) as kit:
            await scripted_day(kit)

    anyio.run(fill)
    return url


def test_tables_show_the_headline_figures(store: str) -> None:
    result = runner.invoke(app, ["report", "--url", store, *RANGE, "--by", "team"])
    assert result.exit_code == 0, result.output
    assert "first response" in result.output
    assert "67% (2/3)" in result.output  # CSAT
    assert "40% (2/5)" in result.output  # first contact resolution
    assert "support" in result.output


def test_json_is_the_typed_report(store: str) -> None:
    result = runner.invoke(app, ["report", "--url", store, *RANGE, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["totals"]["conversations"] == 7
    assert data["totals"]["first_response"]["total"] == 300 + 16800 + 180 + 180
    assert data["totals"]["csat"]["response_rate"] == 0.75


def test_csv_has_a_row_per_group(store: str) -> None:
    result = runner.invoke(
        app, ["report", "--url", store, *RANGE, "--format", "csv", "--by", "channel"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["group"] for r in rows] == ["total", "sms", "web"]
    assert [int(r["conversations"]) for r in rows] == [7, 2, 5]
    assert rows[0]["first_response.median_s"] == "240.0"


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_and_html(store: str, tmp_path: Path, suffix: str) -> None:
    plot = tmp_path / f"report{suffix}"
    page = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            "--url",
            store,
            *RANGE,
            "--tz",
            "Europe/Istanbul",
            "--plot",
            str(plot),
            "--html",
            str(page),
        ],
    )
    assert result.exit_code == 0, result.output
    data = plot.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data
    assert len(data) > 10_000
    html = page.read_text()
    assert html.count("<svg") >= 4
    assert 'src="http' not in html
    assert "<script" not in html
    assert "Busiest hours" in html


def test_bad_plot_suffix_is_a_clear_error(store: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", "--url", store, *RANGE, "--plot", str(tmp_path / "x.gif")]
    )
    assert result.exit_code == 1
    assert ".png or .svg" in result.output


def test_rebuild_and_heatmap(store: str) -> None:
    result = runner.invoke(app, ["report", "rebuild", "--url", store])
    assert result.exit_code == 0, result.output
    assert "7 conversations" in result.output
    heat = runner.invoke(
        app,
        [
            "report",
            "heatmap",
            "--url",
            store,
            *RANGE,
            "--tz",
            "Europe/Istanbul",
            "--format",
            "json",
        ],
    )
    assert heat.exit_code == 0, heat.output
    cells = json.loads(heat.output)["cells"]
    assert cells[0][5] == 1
    assert cells[1][1] == 1


def test_exports(store: str, tmp_path: Path) -> None:
    target = tmp_path / "facts.csv"
    result = runner.invoke(app, ["report", "export", str(target), "--url", store, *RANGE])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 7
    assert sorted(float(r["first_response_s"]) for r in rows if r["first_response_s"]) == [
        180,
        180,
        300,
        16800,
    ]
    parquet = tmp_path / "replies.parquet"
    result = runner.invoke(
        app, ["report", "export", str(parquet), "--url", store, *RANGE, "--replies"]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(parquet)
    assert table.num_rows == 7
    waits = sorted(w for w in table.column("wait_s").to_pylist() if w is not None)
    assert waits == [120, 180, 180, 300, 300, 16800]


def test_mood_staffing_and_sla_subcommands(store: str) -> None:
    mood = runner.invoke(
        app, ["report", "mood", "--url", store, "--days", "3660", "--format", "json"]
    )
    assert mood.exit_code == 0, mood.output
    assert json.loads(mood.output)["fell"]["count"] == 1
    staffing = runner.invoke(
        app, ["report", "staffing", "--url", store, "--days", "3660", "--team", "support"]
    )
    assert staffing.exit_code == 0, staffing.output
    assert "understaffed hours:" in staffing.output
    sla = runner.invoke(
        app, ["report", "sla", "--url", store, "--days", "3660", "--format", "json"]
    )
    assert sla.exit_code == 0, sla.output
    assert json.loads(sla.output) == []  # no policies configured
    bad = runner.invoke(app, ["report", "--url", store, "--tz", "Mars/Olympus"])
    assert bad.exit_code == 1
    assert "unknown time zone" in bad.output

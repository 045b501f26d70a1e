from __future__ import annotations

import hashlib
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import polars as pl
import pytest
from distributed.protocol import pickle as dask_pickle

from features.canonical.pseudonym import pseudonym
from features.canonical.tables import IngestOptions
from pipelines.settings import IngestSettings
from pipelines.steps.ingest import IngestReport, last_export, load_profile, run_ingest
from pipelines.workspace import KEY_ENV, Workspace
from tests.conftest import TINY, write_export
from tests.privacy import file_blobs, found

T = TypeVar("T")


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*"))}


def ingest_with_absences(
    tmp_path: Path, workspace: Path, lines: str
) -> tuple[Workspace, IngestReport]:
    """Ingest the tiny export with ``lines`` added to its absences, accepting any share of
    them in quarantine."""
    export = write_export(
        tmp_path / "export", {**TINY, "absences.csv": TINY["absences.csv"] + lines}
    )
    ws = Workspace(workspace)
    settings = IngestSettings(accept_quarantine=True)
    return ws, run_ingest(export, ws, settings, say=lambda _: None)


def test_ingest_writes_canonical_tables_identity_map_and_manifest(
    tiny_export: Path, workspace: Path
) -> None:
    ws = Workspace(workspace)
    report = run_ingest(tiny_export, ws, IngestSettings(), say=lambda _: None)
    assert [r.table for r in report.reconciliation] == [
        "enrolments",
        "absences",
        "late_arrivals",
        "sick_bay_visits",
        "students",
        "care_cases",
    ]
    assert all(r.balanced for r in report.reconciliation)
    for name in (
        "enrolments",
        "absences",
        "late_arrivals",
        "sick_bay_visits",
        "calendar",
        "students",
        "care_cases",
    ):
        assert ws.canonical_table(name).exists()
    identities = pl.read_parquet(ws.secrets / "identity_map.parquet")
    assert identities["student_id"].to_list() == ["L1", "L2", "L3"]
    assert last_export(ws) == tiny_export.resolve()  # what `serve` watches by default
    for secret in ws.secrets.iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(ws.secrets.stat().st_mode) == 0o700
    assert not (ws.quarantine / "absences.csv").exists()
    assert ws.manifest.exists()


def test_no_school_id_of_a_pupil_survives_outside_secrets(
    tiny_export: Path, workspace: Path
) -> None:
    ws = Workspace(workspace)
    run_ingest(tiny_export, ws, IngestSettings(), say=lambda _: None)
    shown = file_blobs(ws.canonical.glob("*"))
    assert {p.suffix for p in ws.canonical.glob("*")} == {".parquet", ".json"}
    assert found([b"L1", b"L2", b"L3"], shown) == []
    # the same reading finds them where they are kept
    assert found([b"L1", b"L2", b"L3"], file_blobs(ws.secrets.glob("*"))) == [b"L1", b"L2", b"L3"]


def test_reingesting_the_same_export_gives_identical_files(
    tiny_export: Path, workspace: Path
) -> None:
    ws = Workspace(workspace)
    run_ingest(tiny_export, ws, IngestSettings(), say=lambda _: None)
    first = digests(ws.canonical)
    run_ingest(tiny_export, ws, IngestSettings(), say=lambda _: None)
    assert digests(ws.canonical) == first


def test_quarantine_file_names_file_row_column_value_and_reason(
    tmp_path: Path, workspace: Path
) -> None:
    ws, report = ingest_with_absences(
        tmp_path, workspace, "L1;2024-09-31;AM;Z;\nL1;2024-09-05;AM;Z;-3\n"
    )
    rows = pl.read_csv(ws.quarantine / "absences.csv", separator=";", infer_schema=False)
    assert rows.select("file", "row", "column", "value", "reason").rows() == [
        (
            "absences.csv",
            "7",
            "date",
            "2024-09-31",
            "not a date (expected YYYY-MM-DD or DD/MM/YYYY)",
        ),
        ("absences.csv", "8", "minutes", "-3", "negative duration"),
    ]
    assert rows["student_id"].to_list() == ["L1", "L1"]  # the whole raw row is kept
    assert report.quarantine_examples == [
        "absences.csv row 7 column date: not a date (expected YYYY-MM-DD or DD/MM/YYYY) "
        f"(+1 more); see {ws.quarantine / 'absences.csv'}"
    ]


def test_a_line_with_too_many_fields_is_quarantined_and_the_rest_ingested(
    tmp_path: Path, workspace: Path
) -> None:
    extra = "L1;2024-09-05;AM;Z;;remark; with a semicolon\nL2;2024-09-06;PM;Z;\n"
    ws, report = ingest_with_absences(tmp_path, workspace, extra)
    absences = next(r for r in report.reconciliation if r.table == "absences")
    assert (absences.read, absences.accepted, absences.quarantined) == (7, 6, 1)
    rows = pl.read_csv(ws.quarantine / "absences.csv", separator=";", infer_schema=False)
    line = "L1;2024-09-05;AM;Z;;remark; with a semicolon"
    assert rows.select("file", "row", "column", "value", "reason").rows() == [
        ("absences.csv", "7", "(whole line)", line, "7 fields where the header has 5")
    ]
    assert pl.read_parquet(ws.canonical_table("absences")).height == 6


def test_the_key_can_come_from_the_environment(
    tiny_export: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = bytes(range(32))
    monkeypatch.setenv(KEY_ENV, key.hex())
    ws = Workspace(workspace)
    run_ingest(tiny_export, ws, IngestSettings(), say=lambda _: None)
    assert not (ws.secrets / "pseudonym.key").exists()
    enrolments = pl.read_parquet(ws.canonical_table("enrolments"))
    assert pseudonym(key, "L1") in enrolments["student_key"].to_list()


def test_an_export_without_a_table_the_workspace_holds_stops_unless_dropped(
    tmp_path: Path, workspace: Path
) -> None:
    from pipelines.steps.ingest import IncompleteExportError

    ws = Workspace(workspace)
    run_ingest(write_export(tmp_path / "full", TINY), ws, IngestSettings(), say=lambda _: None)
    before = digests(ws.canonical)
    # The weekly export of a school system that sends the two required tables only.
    partial = {k: TINY[k] for k in ("enrolments.csv", "absences.csv")}
    export = write_export(tmp_path / "partial", partial)
    with pytest.raises(IncompleteExportError) as stopped:
        run_ingest(export, ws, IngestSettings(), say=lambda _: None)
    assert str(stopped.value).startswith(
        "the export has no care_cases, late_arrivals, sick_bay_visits, students but the "
        "workspace holds it from the last ingest: nothing written."
    )
    assert digests(ws.canonical) == before
    # Dropping all four on purpose empties them; the next such export then passes.
    dropped = ("care_cases", "late_arrivals", "sick_bay_visits", "students")
    run_ingest(export, ws, IngestSettings(drop_tables=dropped), say=lambda _: None)
    assert pl.read_parquet(ws.canonical_table("care_cases")).height == 0
    run_ingest(export, ws, IngestSettings(), say=lambda _: None)
    with pytest.raises(IncompleteExportError, match="--drop-table cases: no such table"):
        run_ingest(export, ws, IngestSettings(drop_tables=("cases",)), say=lambda _: None)


def test_a_table_mostly_quarantined_stops_the_ingest_and_writes_only_the_quarantine(
    tmp_path: Path, workspace: Path
) -> None:
    from pipelines.steps.ingest import QuarantineGateError

    ws = Workspace(workspace)
    # Late arrivals timed the Belgian way some school systems write them: 8u31, not 08:31.
    late = "student_id;date;time;minutes_late\nL1;2024-09-10;8u40;10\nL2;2024-09-11;8u31;1\n"
    export = write_export(tmp_path / "export", {**TINY, "late_arrivals.csv": late})
    with pytest.raises(QuarantineGateError) as stopped:
        run_ingest(export, ws, IngestSettings(), say=lambda _: None)
    assert str(stopped.value) == (
        "late_arrivals: 100.0% of 2 rows quarantined, over the 5% gate: 2 x time: not a time HH:MM; "
        f"nothing written but {ws.quarantine}; fix the export (or map its "
        "codes and columns), or --accept-quarantine"
    )
    assert not ws.canonical.exists()
    assert [p.name for p in ws.secrets.iterdir()] == ["pseudonym.key"]  # no identity map
    assert sorted(p.name for p in ws.quarantine.iterdir()) == ["late_arrivals.csv"]
    report = run_ingest(export, ws, IngestSettings(accept_quarantine=True), say=lambda _: None)
    assert "  most quarantined: 2 x time: not a time HH:MM" in report.lines()
    assert pl.read_parquet(ws.canonical_table("late_arrivals")).height == 0


def test_the_quarantine_gate_is_a_share_of_each_table_s_rows(
    tmp_path: Path, workspace: Path
) -> None:
    from pipelines.steps.ingest import QuarantineGateError

    bad = "L1;not-a-date;AM;Z;\n"  # 1 of 6 absences: 16.7%
    export = write_export(tmp_path / "e", {**TINY, "absences.csv": TINY["absences.csv"] + bad})
    ws = Workspace(workspace)
    run_ingest(export, ws, IngestSettings(max_quarantine_share=0.2), say=lambda _: None)
    with pytest.raises(
        QuarantineGateError, match=r"absences: 16\.7% of 6 rows quarantined, over the 15% gate"
    ):
        run_ingest(export, ws, IngestSettings(max_quarantine_share=0.15), say=lambda _: None)


def test_pupils_keyed_per_school_get_lists_with_their_school_s_own_numbers(
    tmp_path: Path, workspace: Path
) -> None:
    import datetime as dt

    from pipelines.settings import TrainSettings
    from pipelines.steps.ingest import IdScopeError, QuarantineGateError
    from pipelines.steps.train import run_train
    from tests.conftest import TWO_NUMBERINGS, score_dates

    export = write_export(tmp_path / "export", TWO_NUMBERINGS)
    ws = Workspace(workspace)
    # Keyed on the board, the second school's pupils clash with the first's: the gate says why.
    with pytest.raises(QuarantineGateError, match="ingest with --ids per-school; else fix"):
        run_ingest(export, ws, IngestSettings(), say=lambda _: None)
    report = run_ingest(export, ws, IngestSettings(ids="per-school"), say=lambda _: None)
    assert not any("two schools at once" in n for n in report.notices)
    assert pl.read_parquet(ws.canonical_table("enrolments"))["student_key"].n_unique() == 4
    # The next week's export is keyed the same way without saying so; the other way is refused.
    assert run_ingest(export, ws, IngestSettings(), say=lambda _: None).fingerprint
    with pytest.raises(IdScopeError, match=r"^--ids board: the workspace .* keys pupils with "):
        run_ingest(export, ws, IngestSettings(ids="board"), say=lambda _: None)
    run_train(ws, TrainSettings(), say=lambda _: None)  # no history: a rule is the champion
    [scores_path] = score_dates(ws, [dt.date(2024, 9, 9)])
    scores = pl.read_csv(scores_path, separator=";", infer_schema=False)
    assert sorted(scores.select("school_id", "student_id").rows()) == [
        ("S1", "L1"),
        ("S1", "L2"),
        ("S2", "L1"),
        ("S2", "L2"),
    ]
    for school in ("S1", "S2"):  # each school's list names its pupils as the school does
        page = (scores_path.parent / school / "risk_list.html").read_text("utf-8")
        assert "<td>L1</td>" in page and "\x1f" not in page


def test_an_export_with_its_own_file_and_column_names_ingests_as_the_contract_s(
    tmp_path: Path, tiny_export: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setenv(KEY_ENV, bytes(range(32)).hex())  # one key: the same pseudonyms

    # The school system's names for tables and columns, as a profile maps them.
    dutch = {
        "enrolments": "Inschrijvingen",
        "absences": "Afwezigheden",
        "late_arrivals": "Te laat",
        "sick_bay_visits": "Ziekenkamer",
        "students": "Leerlingen",
        "care_cases": "Zorgdossiers",
    }
    columns = {"student_id": "Leerlingnummer", "date": "Datum", "school_id": "School"}
    export = tmp_path / "own-names"
    export.mkdir()
    for number, (filename, text) in enumerate(TINY.items()):
        table = filename.removesuffix(".csv")
        frame = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False)
        frame = frame.rename({c: n for c, n in columns.items() if c in frame.columns})
        stem = export / dutch[table]
        # Each of the three formats, with the file's extension as the school system writes it.
        match number % 3:
            case 0:
                frame.write_csv(stem.with_suffix(".CSV"), separator=";")
            case 1:
                frame.write_excel(stem.with_suffix(".xlsx"))
            case _:
                frame.write_parquet(stem.with_suffix(".parquet"))
    profile = tmp_path / "ours.toml"
    profile.write_text(
        'extends = "flanders"\n[files]\n'
        + "".join(f'"{name}" = "{table}"\n' for table, name in dutch.items())
        + "[columns]\n"
        + "".join(f'{name} = "{column}"\n' for column, name in columns.items()),
        "utf-8",
    )
    own = Workspace(tmp_path / "own-ws")
    report = run_ingest(export, own, IngestSettings(codes=str(profile)), say=lambda _: None)
    assert [r.quarantined for r in report.reconciliation] == [0] * 6
    plain = Workspace(workspace)
    run_ingest(tiny_export, plain, IngestSettings(), say=lambda _: None)
    tables = digests(plain.canonical)
    assert tables.pop("manifest.json") != digests(own.canonical)["manifest.json"]  # sources
    assert {n: d for n, d in digests(own.canonical).items() if n in tables} == tables
    # Without the profile the export has no table of the contract at all.
    from pipelines.sources.readers import ExportError

    with pytest.raises(ExportError, match="required table 'enrolments' is missing"):
        run_ingest(export, Workspace(tmp_path / "ws3"), IngestSettings(), say=lambda _: None)


def _split_events(day: str) -> tuple[dict[str, str], dict[str, str]]:
    """TINY as two exports: the events before ``day``, then those from ``day`` on (each
    with the whole enrolments, pupils and care cases, as an incremental export has them)."""
    before, after = dict(TINY), dict(TINY)
    for name in ("absences.csv", "late_arrivals.csv", "sick_bay_visits.csv"):
        header, *rows = TINY[name].splitlines(keepends=True)
        date = header.split(";").index("date")
        before[name] = header + "".join(r for r in rows if r.split(";")[date] < day)
        after[name] = header + "".join(r for r in rows if r.split(";")[date] >= day)
    return before, after


def test_an_incremental_export_appended_gives_the_tables_of_the_cumulative_one(
    tmp_path: Path, tiny_export: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, bytes(range(32)).hex())  # one key: the same pseudonyms
    quiet = IngestSettings()
    whole = Workspace(workspace)
    run_ingest(tiny_export, whole, quiet, say=lambda _: None)
    expected = digests(whole.canonical)
    expected.pop("manifest.json")

    first, second = _split_events("2024-09-09")
    ws = Workspace(tmp_path / "weekly")
    run_ingest(write_export(tmp_path / "w1", first), ws, quiet, say=lambda _: None)
    appending = IngestSettings(append=True)
    week2 = write_export(tmp_path / "w2", second)
    report = run_ingest(week2, ws, appending, say=lambda _: None)
    got = digests(ws.canonical)
    assert {n: d for n, d in got.items() if n in expected} == expected
    assert report.lines()[-4:] == [
        "appended to the workspace:",
        "  absences: held 3 + new 2 = 5 (+ 0 already held, 0 held rows corrected)",
        "  late_arrivals: held 0 + new 1 = 1 (+ 0 already held, 0 held rows corrected)",
        "  sick_bay_visits: held 0 + new 1 = 1 (+ 0 already held, 0 held rows corrected)",
    ]
    # The same increment again adds nothing: each of its rows is already held.
    again = run_ingest(week2, ws, appending, say=lambda _: None)
    assert "  absences: held 5 + new 2 = 5 (+ 2 already held, 0 held rows corrected)" in (
        again.lines()
    )
    assert {n: d for n, d in digests(ws.canonical).items() if n in expected} == expected
    # A correction: L2's absence of 5 September, unexcused (B), was a parent's note (Z).
    fix = {**second, "absences.csv": "student_id;date;period;code;minutes\nL2;2024-09-05;AM;Z;\n"}
    corrected = run_ingest(write_export(tmp_path / "w3", fix), ws, appending, say=lambda _: None)
    assert "  absences: held 5 + new 1 = 5 (+ 0 already held, 1 held rows corrected)" in (
        corrected.lines()
    )
    codes = pl.read_parquet(ws.canonical_table("absences")).filter(pl.col("date").dt.day() == 5)
    assert codes["code"].to_list() == ["Z"]


def _files(ws: Workspace) -> dict[str, str]:
    """Every file an ingest wrote, by its path in the workspace, as a digest."""
    return {
        str(p.relative_to(ws.root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(ws.root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_an_export_checked_in_parts_writes_what_one_part_writes(
    small_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large export's events are read a block at a time into parts by pupil; the workspace
    is the same, byte for byte, with bad rows in blocks read apart and a table that cannot be
    read in blocks (a quote) read whole."""
    monkeypatch.setenv(KEY_ENV, bytes(range(32)).hex())
    export = tmp_path / "export"
    shutil.copytree(small_board, export)
    with (export / "absences.csv").open("a", encoding="utf-8") as absences:
        absences.write("L0010001;2022-10-27;AM;D;\n")  # a duplicate, far from its first row
        absences.write("X9999;2022-10-27;AM;D;\n")  # not enrolled
        absences.write("L0010002;2022-02-30;AM;D;\n")  # not a date
    with (export / "late_arrivals.csv").open("a", encoding="utf-8") as late:
        late.write('L0010002;2024-01-18;"08:31";6\n')  # quoted: read whole
        late.write("L0010002;2024-01-19;08:32;7;x\n")  # more fields than the header
    settings = IngestSettings(accept_quarantine=True)
    one, parts = Workspace(tmp_path / "one"), Workspace(tmp_path / "parts")
    said: list[str] = []
    first = run_ingest(export, one, settings, say=lambda _: None)
    second = run_ingest(
        export, parts, settings.model_copy(update={"partition_rows": 20_000}), said.append
    )
    assert "reading absences.csv into 6 parts by pupil" in said  # 2.7 MB, in blocks of 0.5 MB
    assert "checking the events: part 6 of 6" in said  # progress, without data
    assert _files(parts) == _files(one)
    assert second.lines() == first.lines() and second.notices == first.notices
    quarantined = pl.read_csv(parts.quarantine / "absences.csv", separator=";")
    assert quarantined["reason"].to_list() == [
        "unknown pupil (not in enrolments)",
        "not a date (expected YYYY-MM-DD or DD/MM/YYYY)",
    ]
    absences = next(r for r in second.reconciliation if r.table == "absences")
    assert absences.duplicates == 1
    late = pl.read_csv(parts.quarantine / "late_arrivals.csv", separator=";")
    assert late["reason"].to_list() == ["5 fields where the header has 4"]  # read whole
    assert list((parts.root / ".staging").iterdir()) == []  # the parts are gone
    # The same export appended (each event already held): in parts as in one.
    appending = settings.model_copy(update={"append": True})
    run_ingest(export, one, appending, say=lambda _: None)
    run_ingest(export, parts, appending.model_copy(update={"partition_rows": 20_000}), said.append)
    assert _files(parts) == _files(one)


def test_a_large_event_csv_with_a_quote_is_read_whole_and_says_so(
    small_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quoted value may hold a line break, so a CSV with a quote is not cut into blocks: it
    is read whole, split into the same parts, and the console says it was held in memory."""
    monkeypatch.setenv(KEY_ENV, bytes(range(32)).hex())
    export = tmp_path / "export"
    shutil.copytree(small_board, export)
    with (export / "absences.csv").open("a", encoding="utf-8") as absences:
        absences.write('L0010002;2022-10-27;AM;"D";\n')
    settings = IngestSettings(accept_quarantine=True)
    one, parts = Workspace(tmp_path / "one"), Workspace(tmp_path / "parts")
    run_ingest(export, one, settings, say=lambda _: None)
    report = run_ingest(
        export, parts, settings.model_copy(update={"partition_rows": 20_000}), lambda _: None
    )
    assert _files(parts) == _files(one)
    assert any(
        n.startswith("absences.csv: held in memory while it is read") for n in report.notices
    )


def test_the_parts_jobs_carry_no_key_and_no_pseudonym(
    small_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part's job, sent as a worker would get it (pickled as Dask pickles), holds neither
    the key nor any pupil's pseudonym, nor does what it sends back; and the workspace is the
    one the parts checked in this process give, byte for byte."""
    key = bytes(range(32))
    monkeypatch.setenv(KEY_ENV, key.hex())
    export = tmp_path / "export"
    shutil.copytree(small_board, export)
    with (export / "absences.csv").open("a", encoding="utf-8") as absences:
        absences.write("X9999;2022-10-27;AM;D;\n")  # not enrolled: its id comes back quarantined
    settings = IngestSettings(accept_quarantine=True, partition_rows=20_000)
    here, sent = Workspace(tmp_path / "here"), Workspace(tmp_path / "sent")
    run_ingest(export, here, settings, say=lambda _: None)
    blobs: list[bytes] = []

    def pickled(job: Callable[[int], T], count: int) -> list[T]:
        blobs.append(dask_pickle.dumps(job))
        results = [dask_pickle.loads(blobs[-1])(part) for part in range(count)]
        blobs.extend(dask_pickle.dumps(result) for result in results)
        return [dask_pickle.loads(blob) for blob in blobs[-count:]]

    said: list[str] = []
    run_ingest(export, sent, settings, say=said.append, mapper=pickled)
    assert "checking the events: 6 parts, on the workers" in said
    assert _files(sent) == _files(here)
    assert len(blobs) == 2 * (1 + 6)  # the dates' job, the checks' job, and their results
    pseudonyms = pl.read_parquet(sent.secrets / "identity_map.parquet")["student_key"]
    for blob in blobs:
        assert key not in blob and key.hex().encode() not in blob
        assert not any(p.encode() in blob for p in pseudonyms.head(50))
    assert any(b"X9999" in blob for blob in blobs)  # the search does see a frame's text
    with pytest.raises(TypeError, match="without_key"):
        dask_pickle.dumps(IngestOptions(profile=load_profile("flanders"), key=key))

"""Incremental exports: the events of a new export added to the ones a workspace holds.

A school system that exports only what changed since the last export (``ingest --append``)
sends the new absences, late arrivals and sick-bay visits, and, as every export does, the
complete enrolments (and calendar, pupils and care cases when it has them): events are only
checked against complete enrolments. Each new event is then

- already held: the same row as one the workspace holds (an export sent twice, or an
  overlap between two exports); counted, not added;
- a correction: an absence for a pupil, day and period the workspace holds with another code
  or length; the new row replaces the held one (the school corrected its register);
- new: added.

Pure: canonical frames in, canonical frames out; :class:`AppendReconciliation` accounts, per
table, for every held and every accepted row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from features.canonical.tables import CANONICAL_COLUMNS, builtin_calendar, sorted_table

APPENDED_TABLES = ("absences", "late_arrivals", "sick_bay_visits")
"""The tables an incremental export holds only the new rows of; the others come whole."""

_SAME_EVENT: dict[str, tuple[str, ...]] = {
    "absences": ("student_key", "date", "period"),
}
"""What makes two rows the same event (one code per pupil, day and period): a new row with
the same key and other values corrects the held one. A table not named here has no such key
(a pupil may be late twice a day): its rows are the same event only when equal."""


@dataclass(frozen=True)
class AppendReconciliation:
    """Where a table's rows went when an export was appended: ``held + accepted =
    total + already_held + replaced``."""

    table: str
    held: int
    accepted: int
    already_held: int
    replaced: int
    total: int

    @property
    def balanced(self) -> bool:
        """True when every held and every accepted row is accounted for."""
        return self.held + self.accepted == self.total + self.already_held + self.replaced

    def line(self) -> str:
        """One line for the console and the manifest."""
        return (
            f"{self.table}: held {self.held:,} + new {self.accepted:,} = {self.total:,} "
            f"(+ {self.already_held:,} already held, {self.replaced:,} held rows corrected)"
        )


@dataclass(frozen=True)
class Appended:
    """The workspace's tables after an append, and how each event table got there."""

    tables: dict[str, pl.DataFrame]
    reconciliation: list[AppendReconciliation]


def append(
    held: Mapping[str, pl.DataFrame], new: Mapping[str, pl.DataFrame], builtin: bool
) -> Appended:
    """The workspace's canonical tables once ``new`` (a canonicalised export) is appended.

    Parameters
    ----------
    held
        The canonical tables the workspace holds (none before the first ingest).
    new
        The canonical tables of the incremental export.
    builtin
        Whether ``new`` has the built-in calendar (the export had none): it is then built
        again over every event's date, held or new, not over the new export's weeks only.

    Returns
    -------
    Appended
        Every table of ``new`` (the event tables with the held rows added, the others as the
        export has them) and the reconciliation of each event table.
    """
    tables = dict(new)
    accounts = []
    for name in APPENDED_TABLES:
        if name not in held:
            continue
        tables[name], account = _appended(name, held[name], new[name])
        accounts.append(account)
    if builtin:
        dates = pl.concat([tables[name]["date"] for name in APPENDED_TABLES])
        tables["calendar"] = sorted_table(builtin_calendar(dates), "calendar")
    return Appended(tables, accounts)


def _appended(
    name: str, held: pl.DataFrame, new: pl.DataFrame
) -> tuple[pl.DataFrame, AppendReconciliation]:
    """One event table: ``held`` with ``new`` added (see the module docstring)."""
    columns = list(CANONICAL_COLUMNS[name])
    held, new = held.select(columns), new.select(columns)
    already = new.join(held, on=columns, how="semi", nulls_equal=True)
    fresh = new.join(held, on=columns, how="anti", nulls_equal=True)
    key = list(_SAME_EVENT.get(name, columns))
    kept = held.join(fresh, on=key, how="anti", nulls_equal=True)
    merged = sorted_table(pl.concat([kept, fresh]), name)
    account = AppendReconciliation(
        table=name,
        held=held.height,
        accepted=new.height,
        already_held=already.height,
        replaced=held.height - kept.height,
        total=merged.height,
    )
    return merged, account

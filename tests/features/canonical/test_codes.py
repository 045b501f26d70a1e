from __future__ import annotations

import re

import polars as pl
import pytest

from features.canonical import codes


@pytest.mark.parametrize("name", codes.BUILTIN_PROFILES)
def test_builtin_profiles_map_into_known_categories(name: str) -> None:
    profile = codes.builtin_profile(name)
    assert profile.codes
    assert set(profile.codes.values()) <= set(codes.CATEGORIES)


def test_flanders_knows_the_seven_discimus_codes_and_local_ones() -> None:
    flanders = codes.builtin_profile("flanders").codes
    assert set("ARZMHPB") <= set(flanders)
    assert flanders["B"] == "unexcused"
    assert flanders["Z"] == "illness_parent_note"
    assert flanders["D"] == "illness_certified"
    assert flanders["L"] == "late"


def test_codes_match_exactly_then_case_insensitively_and_edfi_uris_are_trimmed() -> None:
    frame = pl.DataFrame(
        {"code": [" z", "uri://ed-fi.org/AttendanceEventCategoryDescriptor#Tardy"]}
    )
    flanders = frame.with_columns(codes.normalised_code()).with_columns(
        codes.category(codes.builtin_profile("flanders"))
    )
    assert flanders["category"].to_list() == ["illness_parent_note", None]
    edfi = frame.with_columns(codes.normalised_code()).with_columns(
        codes.category(codes.builtin_profile("edfi"))
    )
    assert edfi["category"].to_list()[1] == "late"


def test_unknown_codes_are_listed_with_counts() -> None:
    found = codes.unknown_codes(pl.Series(["Q", "B", "Q", "X"]), codes.builtin_profile("flanders"))
    assert found.rows() == [("Q", 2), ("X", 1)]


def test_user_profile_from_toml_and_its_errors() -> None:
    profile = codes.CodeProfile.from_toml("mine", '[codes]\nZZ = "illness"\n')
    assert profile.codes == {"ZZ": "illness"}
    with pytest.raises(codes.ProfileError, match="unknown category 'sick'"):
        codes.CodeProfile.from_toml("mine", '[codes]\nZZ = "sick"\n')
    with pytest.raises(codes.ProfileError, match="not valid TOML"):
        codes.CodeProfile.from_toml("mine", "[codes\n")
    with pytest.raises(codes.ProfileError, match="unknown code profile"):
        codes.builtin_profile("belgium")


@pytest.mark.parametrize(
    ("code", "normal"),
    [
        (" Z ", "Z"),
        ("uri://ed-fi.org/AttendanceEventCategoryDescriptor#Tardy", "Tardy"),
        ("#", "#"),
        ("x# ", "x#"),
    ],
)
def test_normalise_keeps_a_code_with_nothing_after_its_hash(code: str, normal: str) -> None:
    assert codes.normalise(code) == normal
    frame = pl.DataFrame({"code": [code]}).select(codes.normalised_code())
    assert frame["code"].to_list() == [normal]


SCHOOL_SYSTEM = """
extends = "flanders"

[codes]
ZA = "illness_certified"   # a local code for a certificate
B = "excused_other"        # replaces the built-in mapping

[values.period]
VM = "AM"
NM = "PM"

[values.outcome]
"naar huis" = "sent_home"
"ouders gebeld" = "parents_called"
"terug naar de klas" = "back_to_class"

[values.case_type]
schoolweigering = "school_refusal"
"""


def test_a_profile_extends_a_built_in_one_and_adds_or_replaces_codes_and_values() -> None:
    profile = codes.CodeProfile.from_toml("ours.toml", SCHOOL_SYSTEM)
    flanders = codes.builtin_profile("flanders").codes
    assert set(flanders) | {"ZA"} == set(profile.codes)
    assert (profile.codes["Z"], profile.codes["ZA"], profile.codes["B"]) == (
        "illness_parent_note",
        "illness_certified",
        "excused_other",
    )
    assert dict(profile.values["period"]) == {"VM": "AM", "NM": "PM"}
    assert profile.values["outcome"]["NAAR HUIS"] == "sent_home"  # matched without case


def test_a_profile_without_extends_still_replaces_the_built_in_one() -> None:
    profile = codes.CodeProfile.from_toml("own.toml", '[codes]\nX = "illness"\n')
    assert dict(profile.codes) == {"X": "illness"} and not profile.values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('extends = "mars"\n', "extends 'mars', which is not a built-in profile"),
        (
            'extends = "flanders"\n[values.student_id]\nA = "B"\n',
            "[values.student_id]: not a column whose values can be mapped",
        ),
        ('extends = "flanders"\n[values]\nperiod = "AM"\n', "[values.period] must map texts"),
        ("extends = 'flanders'\n[codes]\nQ = 'sick'\n", "code 'Q' maps to unknown category"),
    ],
)
def test_a_bad_profile_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(codes.ProfileError, match=re.escape(message)):
        codes.CodeProfile.from_toml("ours.toml", text)


def test_values_are_mapped_without_regard_to_blanks_or_case_and_others_stay() -> None:
    profile = codes.CodeProfile.from_toml("ours.toml", SCHOOL_SYSTEM)
    frame = pl.DataFrame({"period": [" vm", "NM", "AM", "3", None], "code": ["VM"] * 5})
    mapped = codes.mapped_values(frame, profile)
    assert mapped["period"].to_list() == ["AM", "PM", "AM", "3", None]
    assert mapped["code"].to_list() == ["VM"] * 5  # only the columns the profile names


def test_a_profile_names_the_export_s_own_files_and_columns() -> None:
    profile = codes.CodeProfile.from_toml(
        "ours.toml",
        'extends = "flanders"\n'
        '[files]\nAfwezigheden = "absences"\n" Inschrijvingen " = "enrolments"\n'
        '[columns]\nLeerlingnummer = "student_id"\nDatum = "date"\n'
        '[columns.absences]\nLesuur = "period"\nDatum = "date"\n',
    )
    names = profile.names
    assert (names.table("AFWEZIGHEDEN"), names.table("inschrijvingen")) == (
        "absences",
        "enrolments",
    )
    assert names.table("absences") == "absences"  # the contract's own names still work
    assert names.table("Other") == "Other"
    assert [names.column("absences", c) for c in ("lesuur", "\ufeffLeerlingnummer ", "code")] == [
        "period",
        "student_id",
        "code",
    ]
    assert names.column("late_arrivals", "Lesuur") == "Lesuur"  # mapped for absences only
    assert codes.builtin_profile("flanders").names.column("absences", " date") == "date"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[codes]\nZ = "illness"\n[files]\nX = "absence"\n',
            "maps 'x' to 'absence', which is not a table",
        ),
        ('[codes]\nZ = "illness"\n[files]\nX = 1\n', "[files] must map texts to texts"),
        (
            '[codes]\nZ = "illness"\n[columns]\nNr = "pupil"\n',
            "[columns] maps 'nr' to 'pupil', which",
        ),
        (
            '[codes]\nZ = "illness"\n[columns.absences]\nNr = "grade"\n',
            "[columns.absences] maps 'nr' to 'grade', which is not a column of the contract",
        ),
        (
            '[codes]\nZ = "illness"\n[columns.pupils]\nNr = "student_id"\n',
            "[columns.pupils]: not a table",
        ),
    ],
)
def test_a_profile_that_names_no_table_or_column_of_the_contract_is_refused(
    text: str, message: str
) -> None:
    with pytest.raises(codes.ProfileError, match=re.escape(message)):
        codes.CodeProfile.from_toml("ours.toml", text)

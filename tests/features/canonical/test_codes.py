from __future__ import annotations

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

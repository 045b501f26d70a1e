"""The privacy tests' search finds a needle exactly where a plain substring search would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.privacy import found

# A small alphabet with bytes that are not UTF-8 on their own, so needles overlap and nest.
ALPHABET = st.sampled_from([b"L", b"2", b"\x00", b"\xff", b"\xc3"])
BYTES = st.lists(ALPHABET, max_size=40).map(b"".join)


@given(
    needles=st.lists(BYTES.filter(bool), min_size=1, max_size=8, unique=True),
    blobs=st.lists(BYTES, max_size=4),
)
def test_found_is_a_substring_search_in_any_blob(needles: list[bytes], blobs: list[bytes]) -> None:
    assert found(needles, blobs) == [n for n in needles if any(n in b for b in blobs)]


def test_found_keeps_the_needles_order_and_finds_nested_and_overlapping_ids() -> None:
    blobs = [b"id=L23;L2", b"\xffL1\x00"]
    assert found([b"L3", b"L23", b"L1", b"L2", b"23;L"], blobs) == [b"L23", b"L1", b"L2", b"23;L"]

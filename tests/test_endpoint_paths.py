"""Task ids in query paths: ``quote_segment`` makes any id one percent-encoded path segment."""

from __future__ import annotations

import string
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from kling_async._endpoints import ENDPOINTS, quote_segment


@settings(max_examples=300, deadline=None)
@given(value=st.text(st.sampled_from(string.ascii_letters + string.digits), min_size=1,
                     max_size=256))
def test_an_id_of_ascii_letters_and_digits_is_quoted_as_the_general_rule_quotes_it(
        value: str) -> None:
    """quote_segment's fast path (an id of ASCII letters and digits, as Kling's are) gives
    exactly what urllib's quote(value, safe="") gives."""
    assert quote_segment(value) == quote(value, safe="")


@settings(max_examples=300, deadline=None)
@given(value=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                     max_size=40).filter(str.isprintable).filter(lambda v: v not in (".", "..")))
def test_any_printable_id_is_one_quoted_segment(value: str) -> None:
    """Any id a caller may pass is percent-encoded as one segment of the query path."""
    path = ENDPOINTS["images/generations"].task_path(value)
    assert path == f"/v1/images/generations/{quote(value, safe='')}"
    assert path.count("/") == 4

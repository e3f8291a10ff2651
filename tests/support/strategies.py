"""Hypothesis strategies shared by the suite."""

from __future__ import annotations

import string

from hypothesis import strategies as st

NAME_FIRST = string.ascii_letters + string.digits
NAME_REST = NAME_FIRST + "-_"


def valid_batch_names() -> st.SearchStrategy[str]:
    """Names the seed's rule accepts: alphanumeric first, then [A-Za-z0-9_-], 1..90 in all."""
    return st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(NAME_FIRST),
        st.text(alphabet=NAME_REST, max_size=89),
    )


def near_batch_names() -> st.SearchStrategy[str]:
    """Arbitrary unicode mixed with almost-valid names, around the length limit."""
    return st.one_of(
        st.text(),
        st.text(alphabet=NAME_REST, min_size=85, max_size=95),
        st.builds(lambda a, b: a + b, valid_batch_names(), st.text(max_size=3)),
        st.builds(lambda a, b: a + b, st.text(max_size=2), valid_batch_names()),
    )

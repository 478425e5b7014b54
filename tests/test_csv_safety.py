"""No CSV the portal writes can carry a spreadsheet formula, whatever text a dealer or a manager typed."""

from __future__ import annotations

import csv
import io

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.csv_io import FORMULA_STARTS, csv_response
from tests.factories import examples

# Text that starts like a formula half the time, and any text otherwise.
typed_text = st.one_of(
    st.tuples(st.sampled_from(FORMULA_STARTS), st.text(max_size=30)).map("".join),
    st.text(max_size=40),
)


@settings(max_examples=examples(300), deadline=None)
@given(cells=st.lists(typed_text, min_size=1, max_size=6))
def test_no_exported_cell_starts_a_formula_and_the_text_survives(cells: list[str]) -> None:
    app = Flask(__name__)
    with app.test_request_context():
        response = csv_response(["Header"] * len(cells), [cells, [-12, 3.5, None]], "export.csv")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))
    written = rows[1]
    for typed, cell in zip(cells, written, strict=True):
        assert not cell.startswith(FORMULA_STARTS), cell
        assert cell == typed or cell == "'" + typed  # shown as the same text, with an apostrophe where needed
    assert rows[2] == ["-12", "3.5", ""]  # the portal's own numbers stay numbers

"""Table 1 at every row boundary, N odd and even, and the extrapolation above 96."""

from __future__ import annotations

import pytest

from controller.core.staffing import TABLE_1, online_staff, recommend

# (guide, consult on site, consult online, intake, self-service, pickup) per row, typed in
# again from the standard's text rather than imported, so a typo in the module shows.
ROWS = {
    12: (1, 1, 1, 4, 1, 1),
    24: (1, 1, 1, 8, 1, 1),
    36: (2, 1, 1, 12, 1, 1),
    48: (2, 2, 2, 16, 1, 2),
    60: (3, 2, 2, 20, 1, 2),
    72: (3, 2, 2, 24, 1, 2),
    84: (4, 3, 3, 28, 1, 3),
    96: (4, 3, 4, 32, 1, 3),
}


def columns(peak: int, n: int = 0) -> tuple[int, ...]:
    s = recommend(peak, n)
    return (s.guide, s.consult_onsite, s.consult_online, s.intake, s.self_service, s.pickup)


@pytest.mark.parametrize("upper", sorted(ROWS))
def test_every_row_boundary(upper: int) -> None:
    lower = upper - 11
    assert columns(lower) == ROWS[upper]
    assert columns(upper) == ROWS[upper]
    assert recommend(upper, 0).band == f"{lower}-{upper}"
    assert not recommend(upper, 0).extrapolated
    if upper < 96:
        assert columns(upper + 1) == ROWS[upper + 12], f"{upper}/{upper + 1}"


def test_module_table_matches_the_standard() -> None:
    assert {row[0]: row[1:] for row in TABLE_1} == ROWS


@pytest.mark.parametrize("n,expected", [(0, 0), (1, 1), (2, 1), (7, 4), (8, 4), (9, 5)])
def test_online_is_half_the_computers_rounded_up(n: int, expected: int) -> None:
    assert online_staff(n) == expected
    for peak in (1, 50, 96, 200):
        assert recommend(peak, n).online == expected


def test_quiet_day_gets_the_first_row() -> None:
    assert columns(0) == ROWS[12]
    assert recommend(0, 3).band == "1-12"


def test_above_96_extrapolates_and_never_drops() -> None:
    at_96 = columns(96)
    s = recommend(97, 6)
    assert s.extrapolated and s.band == "97-108"
    assert (s.guide, s.consult_onsite, s.consult_online, s.intake, s.self_service,
            s.pickup) == (5, 3, 4, 36, 1, 3)
    assert all(a >= b for a, b in zip(columns(97), at_96, strict=True))
    previous = at_96
    for peak in range(97, 400):
        now = columns(peak)
        assert all(a >= b for a, b in zip(now, previous, strict=True)), peak
        previous = now
    assert columns(120) == (5, 4, 5, 40, 1, 4)
    assert recommend(109, 0).band == "109-120"


def test_negative_input_is_refused() -> None:
    with pytest.raises(ValueError):
        recommend(-1, 0)
    with pytest.raises(ValueError):
        online_staff(-2)

"""Table 1 of the standard (5.2.6): how many staff each post needs for a given peak.

The input is the peak number of tickets taken in any rolling 5 minutes (高峰期5分钟内取号数);
the output is the minimum staff per post. Pure: no state, no clock.

Reading of the table (docs/flow.md): the consultation column is split into on site (线下)
and online (线上), the only reading under which intake grows by 4 for every 12 tickets.
"online" staff (网办人员) is N/2 of the hall's self-service computers, rounded up,
whatever the peak. A peak of 0 (a quiet day, or a slot before anyone came) gets the first
row: the table gives the least an open hall has, not a reason to close it.

Above 96 the standard says nothing. We carry each column's own step on, band by band of 12
tickets (band k covers 12k-11 .. 12k), so a hall past the table is never told it needs
fewer people than at 96, and the answer is flagged `extrapolated`:

- intake: 4 per band (4k), exactly the table's slope;
- guide: one more every 2 bands (ceil(k/2): 1,1,2,2,3,3,4,4 in the table);
- consultation on site and pickup: one more every 3 bands (ceil(k/3): 1,1,1,2,2,2,3,3);
- consultation online: the last row's "on site + 1" kept (ceil(k/3) + 1: 4 at k = 8, 9);
- self-service: 1, as in every row; online: N/2 as always.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

BAND = 12  # tickets per 5 minutes per row of the table
TABLE_MAX = 96

# (upper bound of the row, guide, consult on site, consult online, intake, self-service,
#  pickup); online staff is N/2 in every row and is computed separately.
TABLE_1: tuple[tuple[int, int, int, int, int, int, int], ...] = (
    (12, 1, 1, 1, 4, 1, 1),
    (24, 1, 1, 1, 8, 1, 1),
    (36, 2, 1, 1, 12, 1, 1),
    (48, 2, 2, 2, 16, 1, 2),
    (60, 3, 2, 2, 20, 1, 2),
    (72, 3, 2, 2, 24, 1, 2),
    (84, 4, 3, 3, 28, 1, 3),
    (96, 4, 3, 4, 32, 1, 3),
)

# The posts of the recommendation, in the table's column order, with the window post
# (controller.config.model.Post) that staffs each; consultation online has no window.
POSTS: tuple[tuple[str, str | None], ...] = (
    ("guide", "guide"),
    ("consult_onsite", "consult"),
    ("consult_online", None),
    ("intake", "intake"),
    ("self_service", "self_service"),
    ("online", "online"),
    ("pickup", "pickup"),
)


@dataclass(frozen=True, slots=True)
class Staffing:
    """The least staff per post for one peak, as Table 1 (or its extrapolation) says."""

    peak_5min: int
    band: str  # the table row, "1-12" ... "85-96", or "97-108" past the table
    guide: int
    consult_onsite: int
    consult_online: int
    intake: int
    self_service: int
    online: int
    pickup: int
    extrapolated: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def by_post(self) -> dict[str, int]:
        return {name: getattr(self, name) for name, _ in POSTS}


def online_staff(self_service_computers: int) -> int:
    """网办人员: N/2 of the self-service computers, a remainder rounded up (注 of Table 1)."""
    if self_service_computers < 0:
        raise ValueError("the number of self-service computers cannot be negative")
    return math.ceil(self_service_computers / 2)


def recommend(peak_5min: int, self_service_computers: int) -> Staffing:
    """Table 1's row for this peak (tickets taken in the busiest 5 minutes)."""
    if peak_5min < 0:
        raise ValueError("a peak cannot be negative")
    online = online_staff(self_service_computers)
    k = max(1, math.ceil(peak_5min / BAND))
    band = f"{BAND * (k - 1) + 1}-{BAND * k}"
    if peak_5min <= TABLE_MAX:
        _, guide, onsite, consult_online, intake, self_service, pickup = TABLE_1[k - 1]
        return Staffing(peak_5min, band, guide, onsite, consult_online, intake, self_service,
                        online, pickup, False)
    thirds = math.ceil(k / 3)
    return Staffing(peak_5min, band, math.ceil(k / 2), thirds, thirds + 1, 4 * k, 1, online,
                    thirds, True)

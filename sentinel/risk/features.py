"""Per-building features at a cutoff date and labels for the 12 months after it, computed in PostgreSQL.

One GROUP BY query per cutoff over the canonical tables. Everything a feature reads is dated before the cutoff:
counts by issued/received date, "open at the cutoff" rebuilt from dates (status history before the cutoff, else
`NOT (status = 'closed' AND status_date < cutoff)`), never the current status alone. Labels read only the
horizon [cutoff, cutoff + horizon).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

WINDOWS = (30, 90, 365, 1095)

HPD_C = "source = 'HPD' AND severity = 'immediately_hazardous'"
DOB_ECB_HAZARDOUS = "source IN ('DOB', 'DOB_SAFETY', 'ECB') AND severity IN ('hazardous', 'immediately_hazardous')"
VACATE = "source = 'HPD_VACATE'"
SERIOUS = f"(({HPD_C}) OR ({DOB_ECB_HAZARDOUS}) OR ({VACATE}))"

# name -> condition on a violation row
VIOLATION_KINDS = {
    "all": "TRUE",
    "hpd_a": "source = 'HPD' AND severity = 'non_hazardous'",
    "hpd_b": "source = 'HPD' AND severity = 'hazardous'",
    "hpd_c": HPD_C,
    "dob": "source IN ('DOB', 'DOB_SAFETY')",
    "ecb": "source = 'ECB'",
    "hazardous": DOB_ECB_HAZARDOUS,
    "vacate": VACATE,
    "serious": SERIOUS,
}
OPEN_KINDS = ("all", "hpd_a", "hpd_b", "hpd_c", "dob", "ecb", "hazardous")
HEAT = "category ILIKE '%%HEAT%%'"
COMPLAINT_KINDS = {
    "all": "TRUE",
    "heat": HEAT,
    "311": "source = '311'",
    "hpd": "source = 'HPD'",
    "dob": "source = 'DOB'",
}
CATEGORICAL = ("borough", "bldg_class", "owner_type")


def _kind(name: str) -> str:
    """The per-row flag column of a violation kind (computed once per row in the query's `v` subquery)."""
    return "TRUE" if name == "all" else f"k_{name}"


def _violation_columns() -> list[str]:
    cols = []
    for w in WINDOWS:
        for name in VIOLATION_KINDS:
            cols.append(f"count(*) FILTER (WHERE age <= {w} AND {_kind(name)}) AS v_{name}_{w}")
    cols.append("count(*) FILTER (WHERE age > 90 AND age <= 455) AS v_all_prior_year")
    for name in OPEN_KINDS:
        cols.append(f"count(*) FILTER (WHERE is_open AND {_kind(name)}) AS open_{name}")
    cols += [
        "coalesce(max(age) FILTER (WHERE is_open), 0) AS oldest_open_days",
        "coalesce(max(age) FILTER (WHERE is_open AND k_hpd_c), 0) AS oldest_open_hpd_c_days",
        "count(*) FILTER (WHERE is_open AND past_certify) AS overdue_all",
        "count(*) FILTER (WHERE is_open AND past_certify AND k_hpd_c) AS overdue_hpd_c",
        "coalesce(sum(penalty_imposed) FILTER (WHERE k_ecb AND age <= 365), 0)::float8 AS ecb_penalty_365",
        "coalesce(sum(penalty_imposed) FILTER (WHERE k_ecb), 0)::float8 AS ecb_penalty_total",
        "coalesce(sum(balance_due) FILTER (WHERE k_ecb AND is_open), 0)::float8 AS ecb_balance_open",
    ]
    return cols


def _violation_flags() -> str:
    return ",\n         ".join(
        f"({cond}) AS k_{name}" for name, cond in VIOLATION_KINDS.items() if name not in ("all", "serious")
    )


def _complaint_columns() -> list[str]:
    cols = []
    for w in WINDOWS:
        for name in COMPLAINT_KINDS:
            cols.append(f"count(*) FILTER (WHERE age <= {w} AND {_complaint_kind(name)}) AS c_{name}_{w}")
    cols.append("count(*) FILTER (WHERE age > 90 AND age <= 455) AS c_all_prior_year")
    # Heat season: October 1 to May 31; "this winter" is the season that started most recently before the cutoff.
    cols.append("count(*) FILTER (WHERE k_heat AND received_date >= season_start) AS c_heat_season")
    return cols


def _complaint_kind(name: str) -> str:
    return "TRUE" if name == "all" else f"k_{name}"


def _complaint_flags() -> str:
    return ",\n         ".join(f"({cond}) AS k_{name}" for name, cond in COMPLAINT_KINDS.items() if name != "all")


def violation_feature_names() -> list[str]:
    return [c.rsplit(" AS ", 1)[1] for c in _violation_columns()]


def complaint_feature_names() -> list[str]:
    return [c.rsplit(" AS ", 1)[1] for c in _complaint_columns()]


# A violation's status at the cutoff, from its latest status change before it. For the whole city, every violation's
# history is read once and joined (one pass over status_history); for a few buildings, each of their violations'
# latest change is looked up through status_history's (record_kind, record_id) index, so what a rescore reads
# grows with its buildings' records, not with the city's history. A range of the city (one part of scoring every
# lot) is read like the whole city: a part holds too many violations to look each one's history up.
_HIST_FOR_ALL = (
    """hist AS (
  SELECT DISTINCT ON (h.record_id) h.record_id, h.new_status
  FROM status_history h, params
  WHERE h.record_kind = 'violation' AND h.changed_on < params.c
  ORDER BY h.record_id, h.changed_on DESC, h.id DESC
),
""",
    "LEFT JOIN hist h ON h.record_id = v.id",
)
_HIST_FOR_FEW = (
    "",
    """LEFT JOIN LATERAL (
    SELECT h.new_status FROM status_history h
    WHERE h.record_kind = 'violation' AND h.record_id = v.id AND h.changed_on < p.c
    ORDER BY h.changed_on DESC, h.id DESC LIMIT 1) h ON true""",
)


@dataclass(frozen=True, slots=True)
class LotRange:
    """The lots whose bbl is in [lo, hi) in PostgreSQL's order of bbl; None is an open end."""

    lo: str | None = None
    hi: str | None = None

    @property
    def whole(self) -> bool:
        return self.lo is None and self.hi is None

    def params(self) -> dict[str, str | None]:
        return {"lo": self.lo, "hi": self.hi}


EVERY_LOT = LotRange()

# A lot range [lo, hi) of the whole city's query, either end NULL for open: the ranges that split the bbl order at
# a few boundaries cover every lot any table names, whatever its characters (violations' and complaints' bbls have
# no CHECK). A NULL end folds to TRUE when the statement is planned with its parameters (a cursor's is).
_BETWEEN = (
    "AND (%(lo)s::bpchar IS NULL OR {t}.bbl >= %(lo)s::bpchar) AND (%(hi)s::bpchar IS NULL OR {t}.bbl < %(hi)s::bpchar)"
)


def feature_query(only_bbls: bool = False, bbl_range: bool = False) -> sql.SQL:
    """With `only_bbls`, the query takes a `bbls` parameter (a list) and computes just those buildings; with
    `bbl_range`, `lo` and `hi` parameters and computes the lots in [lo, hi) (`_BETWEEN`), every table read
    restricted to them, so the city's query can run in parts at once on several connections."""
    assert not (only_bbls and bbl_range), "a few buildings or a range, not both"
    only = "AND {t}.bbl = ANY(%(bbls)s::bpchar[])" if only_bbls else _BETWEEN if bbl_range else ""
    v_cols = ",\n  ".join(_violation_columns())
    c_cols = ",\n  ".join(_complaint_columns())
    v_zero = ", ".join(f"coalesce(vf.{n}, 0)::float8 AS {n}" for n in violation_feature_names())
    c_zero = ", ".join(f"coalesce(cf.{n}, 0)::float8 AS {n}" for n in complaint_feature_names())
    hist_cte, hist_join = _HIST_FOR_FEW if only_bbls else _HIST_FOR_ALL
    # The properties join repeats the buildings' filter: the universe's row estimate is far too high, and without
    # it the planner hashed the whole properties table to join a few buildings (a scan that grows with the city).
    text = f"""
WITH params AS (
  SELECT %(cutoff)s::date AS c,
         make_date(extract(year FROM %(cutoff)s::date)::int
                   - CASE WHEN extract(month FROM %(cutoff)s::date) >= 10 THEN 0 ELSE 1 END, 10, 1) AS season_start
),
{hist_cte}-- OFFSET 0 keeps this subquery from being flattened into vf: each flag is computed once per row, not once per
-- aggregate that filters on it (51 aggregates read these rows).
v AS (
  SELECT *, k_hpd_c OR k_hazardous OR k_vacate AS k_serious FROM (
  SELECT v.bbl, v.penalty_imposed, v.balance_due, p.c - v.issued_date AS age,
         coalesce(v.certify_by_date < p.c, FALSE) AS past_certify,
         {_violation_flags()},
         CASE WHEN h.new_status IS NOT NULL THEN h.new_status = 'open'
              ELSE NOT (v.status = 'closed' AND v.status_date IS NOT NULL AND v.status_date < p.c) END AS is_open
  FROM violations v CROSS JOIN params p {hist_join}
  WHERE NOT v.is_deleted AND v.bbl IS NOT NULL AND v.issued_date < p.c {only.format(t="v")}
  OFFSET 0) flagged
),
vf AS (SELECT bbl,
  {v_cols}
  FROM v GROUP BY bbl),
cc AS (
  SELECT c.bbl, c.received_date, p.c - c.received_date AS age, p.season_start,
         {_complaint_flags()}
  FROM complaints c CROSS JOIN params p
  WHERE NOT c.is_deleted AND NOT c.is_duplicate AND c.bbl IS NOT NULL
    AND c.received_date < p.c AND c.received_date >= p.c - 1095 {only.format(t="c")}
  OFFSET 0
),
cf AS (SELECT bbl,
  {c_cols}
  FROM cc GROUP BY bbl),
reg AS (
  SELECT r.bbl, max(r.registration_end_date) AS reg_end
  FROM registrations r, params
  WHERE NOT r.is_deleted AND r.bbl IS NOT NULL
    AND (r.last_registration_date IS NULL OR r.last_registration_date < params.c) {only.format(t="r")}
  GROUP BY r.bbl
),
universe AS (
  SELECT bbl FROM properties WHERE TRUE {only.format(t="properties")} UNION SELECT bbl FROM vf UNION SELECT bbl FROM cf
)
SELECT u.bbl::text AS bbl,
  coalesce(pr.borough, substr(u.bbl, 1, 1)::smallint)::text AS borough,
  pr.units_res::float8, pr.units_total::float8, pr.num_floors::float8, pr.year_built::float8,
  pr.bldg_class, pr.owner_type,
  CASE WHEN reg.bbl IS NULL THEN 0 WHEN reg.reg_end < params.c THEN 1 ELSE 0 END::float8 AS registration_lapsed,
  (reg.bbl IS NOT NULL)::int::float8 AS has_registration,
  {v_zero},
  {c_zero}
FROM universe u CROSS JOIN params
LEFT JOIN properties pr ON pr.bbl = u.bbl {only.format(t="pr")}
LEFT JOIN vf ON vf.bbl = u.bbl
LEFT JOIN cf ON cf.bbl = u.bbl
LEFT JOIN reg ON reg.bbl = u.bbl
ORDER BY u.bbl
"""  # noqa: S608 - only constants are interpolated; the cutoff is a bound parameter
    return sql.SQL(text)  # type: ignore[arg-type]


LABELS = ("overall", "safety", "legal", "financial")


def label_query() -> sql.SQL:
    """Per BBL with any new violation in [cutoff, cutoff + horizon): which events happened. Absent BBLs had none."""
    return sql.SQL(
        f"""
WITH params AS (SELECT %(cutoff)s::date AS c, %(cutoff)s::date + %(horizon)s::int AS e)
SELECT v.bbl::text AS bbl,
  bool_or({SERIOUS}) AS safety,
  bool_or({VACATE} OR (v.certify_by_date IS NOT NULL AND v.certify_by_date < params.e
      AND NOT (v.status = 'closed' AND v.status_date IS NOT NULL AND v.status_date <= v.certify_by_date)
      AND (v.certified_date IS NULL OR v.certified_date > v.certify_by_date))) AS legal,
  coalesce(sum(v.penalty_imposed) FILTER (WHERE v.source = 'ECB'), 0)::float8 AS new_penalty,
  coalesce(sum(v.balance_due) FILTER (WHERE v.source = 'ECB'), 0)::float8 AS new_balance
FROM violations v, params
WHERE NOT v.is_deleted AND v.bbl IS NOT NULL AND v.issued_date >= params.c AND v.issued_date < params.e
GROUP BY v.bbl
"""  # noqa: S608 - only constants are interpolated; the cutoff is a bound parameter
    )

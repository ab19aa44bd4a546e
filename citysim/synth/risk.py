"""The hidden risk process: why a building has events, month by month.

Risk is partly persistent and partly time-varying, so that a building's history predicts its future but not
perfectly (the oracle AUC stays well below 1), and not so well that no model can add to a count of its open
violations:

* condition: a persistent latent level per building plus a yearly AR(1) drift (repairs, decay);
* owner behaviour: a monthly two-state Markov chain (attentive / neglecting) whose switching rates depend on the
  owner's trait; the trait itself changes when the building is sold (a few % a year);
* seasonality: heat complaints and immediately hazardous (class C) heat violations peak in the heat season.

`serious_rate[b, m]` is the exact Poisson rate of the building's serious events in month m (HPD class C, ECB
hazardous, DOB unsafe-building violations and vacate orders are all drawn from it), so the true probability of at
least one serious event in months [m0, m0 + 12) is 1 - exp(-sum(serious_rate[b, m0:m0 + 12])).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from citysim.synth.buildings import Buildings
from citysim.synth.dates import day_number

# Monthly switching probabilities (attentive -> neglecting, neglecting -> attentive) per owner trait.
# Spells are frequent enough that a year's risk turns on them: the onset shows in recent complaints and violations
# before it fills the open-violation count (stationary neglect shares 6 / 17 / 44 %).
_ENTER_NEGLECT = np.array([0.02, 0.04, 0.08])
_LEAVE_NEGLECT = np.array([0.30, 0.20, 0.10])
_SALE_RATE_PER_MONTH = 0.03 / 12
_TRAIT_SHARES_AFTER_SALE = np.array([0.40, 0.40, 0.20])

# Serious events per month for a reference building (log scale terms below); calibrated so the class mix and
# row volumes look like NYC: about 3 HPD violations per building-year on average.
SERIOUS_BASE = 0.0032
SIZE_EXPONENT = 0.75
# Until 2026-12 the persistent part dominated (condition 0.8, drift rho 0.6 / sd 0.35, neglect 1.1 with rare spells):
# on a 3,000-building city the weighted open count reached 0.796 ROC AUC for next year's serious events and the
# oracle 0.859, so no model could add more than ~0.06 (benchmarks/RESULTS.md, "Risk model on the product's city").
CONDITION_WEIGHT = 0.6
NEGLECT_WEIGHT = 1.6
AR_RHO = 0.3
AR_SD = 0.6

# Share of the serious rate that each serious kind takes (they add up to 1).
SERIOUS_SHARES = {"hpd_c": 0.90, "ecb_hazardous": 0.065, "dob_unsafe": 0.03, "vacate": 0.005}
# The dataset each serious kind is drawn in, for a config's volume factors (SynthConfig.volumes).
SERIOUS_DATASETS = {
    "hpd_c": "wvxf-dwi5",
    "ecb_hazardous": "6bgk-3dad",
    "dob_unsafe": "3h2n-5cm9",
    "vacate": "tb8q-a3ar",
}

# Paperwork: what an owner does about a violation once it is issued, by owner trait (responsive, average,
# neglectful), and less of it during a neglect spell. It is separate from why violations happen (size, condition,
# neglect): a responsive owner of a building in poor shape certifies within weeks, a neglectful owner of a sound one
# leaves violations open for years, as the city's open-violation backlog shows. Without it a violation's open time
# followed only the neglect spell, and the weighted open count measured the risk (benchmarks/RESULTS.md, "What
# changed in the city (f5eb875)").
CERTIFY_SHARE = np.array([0.95, 0.60, 0.10])  # HPD: violations the owner certifies (outside a neglect spell)
REINSPECT_DAYS = np.array([30.0, 300.0, 1800.0])  # HPD: mean days to a reinspection of an uncertified violation
RESOLVE_SHARE = np.array([0.97, 0.80, 0.30])  # DOB: violations resolved
RESOLVE_DAYS = np.array([60.0, 320.0, 1200.0])
PAY_SHARE = np.array([0.95, 0.70, 0.25])  # ECB: penalties paid
CURE_SHARE = np.array([0.95, 0.75, 0.20])  # ECB: conditions certified cured
NEGLECT_PAPERWORK = 0.4  # a neglect spell multiplies every share above by this


@dataclass(frozen=True)
class Months:
    """Calendar months covering [start, end]; first/last months are partial."""

    start_day: np.ndarray  # first simulated day in the month
    end_day: np.ndarray  # last simulated day in the month (inclusive)
    month_of_year: np.ndarray  # 1..12
    labels: tuple[str, ...]  # "YYYY-MM"

    @property
    def count(self) -> int:
        return len(self.start_day)

    @property
    def fraction(self) -> np.ndarray:
        """Share of the calendar month that is simulated (rates are per full month)."""
        return (self.end_day - self.start_day + 1) / 30.44


def months_between(start: date, end: date) -> Months:
    starts, ends, moy, labels = [], [], [], []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        first = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        starts.append(day_number(max(first, start)))
        ends.append(day_number(min(nxt, date.fromordinal(end.toordinal() + 1))) - 1)
        moy.append(m)
        labels.append(f"{y:04d}-{m:02d}")
        y, m = nxt.year, nxt.month
    return Months(np.array(starts), np.array(ends), np.array(moy), tuple(labels))


def heat_season(months: Months) -> np.ndarray:
    """1.0 in the core heat season (November-March), 0.5 in October and April-May, else 0."""
    moy = months.month_of_year
    return np.where((moy >= 11) | (moy <= 3), 1.0, np.where((moy == 10) | (moy == 4) | (moy == 5), 0.5, 0.0))


@dataclass
class RiskPath:
    """The hidden state of a batch of buildings over the simulated months (arrays are [building, month])."""

    condition: np.ndarray
    neglect: np.ndarray  # bool
    trait: np.ndarray  # int owner trait per month
    serious_rate: np.ndarray  # expected serious events in the month (already scaled by the month fraction)
    activity: np.ndarray  # size x condition x neglect scale for non-serious events, per full month


def simulate_risk(rng: np.random.Generator, bldgs: Buildings, months: Months) -> RiskPath:
    n, m = len(bldgs), months.count
    condition = _condition_paths(rng, bldgs.condition, months)
    trait = np.empty((n, m), dtype=np.int64)
    neglect = np.empty((n, m), dtype=bool)
    cur_trait = bldgs.owner_trait.copy()
    # Start each chain in its stationary distribution so the first months are not special.
    p_stat = _ENTER_NEGLECT / (_ENTER_NEGLECT + _LEAVE_NEGLECT)
    cur = rng.random(n) < p_stat[cur_trait]
    sale_u = rng.random((n, m))
    new_trait = rng.choice(3, size=(n, m), p=_TRAIT_SHARES_AFTER_SALE)
    switch_u = rng.random((n, m))
    for j in range(m):
        sold = sale_u[:, j] < _SALE_RATE_PER_MONTH
        cur_trait = np.where(sold, new_trait[:, j], cur_trait)
        p = np.where(cur, _LEAVE_NEGLECT[cur_trait], _ENTER_NEGLECT[cur_trait])
        cur = np.where(switch_u[:, j] < p, ~cur, cur)
        trait[:, j] = cur_trait
        neglect[:, j] = cur
    size = np.log1p(bldgs.units.astype(np.float64))[:, None]
    log_activity = SIZE_EXPONENT * size + CONDITION_WEIGHT * condition + NEGLECT_WEIGHT * neglect
    activity = np.exp(log_activity)
    season = 1.0 + 0.45 * heat_season(months)[None, :]
    serious_rate = SERIOUS_BASE * activity * season * months.fraction[None, :]
    return RiskPath(condition, neglect, trait, serious_rate, activity)


def _condition_paths(rng: np.random.Generator, base: np.ndarray, months: Months) -> np.ndarray:
    """Persistent level plus a yearly AR(1) drift, held constant within each simulated year."""
    n, m = len(base), months.count
    years = m // 12 + 1
    shocks = rng.normal(0.0, AR_SD, size=(n, years))
    drift = np.empty_like(shocks)
    drift[:, 0] = shocks[:, 0]
    for y in range(1, years):
        drift[:, y] = AR_RHO * drift[:, y - 1] + np.sqrt(1 - AR_RHO**2) * shocks[:, y]
    return base[:, None] + drift[:, np.arange(m) // 12]


def window_probability(serious_rate: np.ndarray, first_month: int, months: int = 12) -> np.ndarray:
    """True probability of at least one serious event in [first_month, first_month + months)."""
    return 1.0 - np.exp(-serious_rate[:, first_month : first_month + months].sum(axis=1))

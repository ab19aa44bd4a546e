"""The synthetic building stock: keys (BBL, BIN, HPD ids), address, PLUTO-like attributes and the hidden
traits (condition, owner behaviour) that drive everything that happens to a building."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citysim.synth.geography import BOROUGH_SHARES, BOROUGHS

OWNER_TRAITS = ("responsive", "average", "neglectful")
OWNER_TRAIT_SHARES = (0.45, 0.40, 0.15)

# PLUTO ownertype: absent (unknown, mostly private), P private, C city, X tax-exempt, O other public, M mixed.
_OWNERTYPES = ("", "P", "C", "X", "O", "M")
_OWNERTYPE_SHARES = (0.80, 0.15, 0.015, 0.025, 0.005, 0.005)
# yearbuilt placeholders real PLUTO is full of (NYC_DATA.md 5.10).
_PLACEHOLDER_YEARS = np.array([1899, 1900, 1920, 1931])


@dataclass
class Buildings:
    """Column arrays, one entry per building; row i of every array is the same building."""

    boro: np.ndarray  # int 1..5
    block: np.ndarray
    lot: np.ndarray
    bin: np.ndarray  # int, 7 digits, first = borough
    building_id: np.ndarray  # HPD BuildingID
    registration_id: np.ndarray  # HPD RegistrationID, 0 = not registered (1-2 family homes)
    street: np.ndarray  # index into the borough's street list
    house: np.ndarray  # house number (Queens: the part after the hyphen)
    house_prefix: np.ndarray  # Queens hyphen prefix ("77" of "77-54"), 0 elsewhere
    zip_index: np.ndarray
    nta_index: np.ndarray
    community_board: np.ndarray
    council: np.ndarray
    census_tract: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    units: np.ndarray
    floors: np.ndarray
    year_built: np.ndarray
    bldgclass: np.ndarray  # str
    ownertype: np.ndarray  # str, "" = absent
    owner_trait: np.ndarray  # int index into OWNER_TRAITS, at the start of the simulation
    condition: np.ndarray  # persistent latent condition, higher = worse; standard normal-ish

    def __len__(self) -> int:
        return len(self.bin)

    def bbl(self, i: int) -> str:
        return f"{self.boro[i]}{self.block[i]:05d}{self.lot[i]:04d}"

    def take(self, idx: slice) -> Buildings:
        return Buildings(**{k: v[idx] for k, v in self.__dict__.items()})


def make_buildings(rng: np.random.Generator, n: int) -> Buildings:
    boro = rng.choice(np.arange(1, 6), size=n, p=BOROUGH_SHARES)
    block, lot, bin_ = _keys(rng, boro)
    units, floors, bldgclass = _sizes(rng, n)
    hyphen = boro == 4
    house = rng.integers(1, 2400, size=n)
    house[hyphen] = rng.integers(1, 99, size=int(hyphen.sum()))
    prefix = np.where(hyphen, rng.integers(20, 250, size=n), 0)
    street = np.array([rng.integers(len(BOROUGHS[b - 1].streets)) for b in boro], dtype=np.int64)
    zip_index = np.array([rng.integers(len(BOROUGHS[b - 1].zips)) for b in boro], dtype=np.int64)
    nta_index = np.array([rng.integers(len(BOROUGHS[b - 1].ntas)) for b in boro], dtype=np.int64)
    boards = np.array([BOROUGHS[b - 1].boards for b in boro])
    lo = np.array([BOROUGHS[b - 1].council[0] for b in boro])
    hi = np.array([BOROUGHS[b - 1].council[1] for b in boro])
    center = np.array([BOROUGHS[b - 1].center for b in boro])
    year = _years(rng, units)
    registered = units >= 3
    trait = rng.choice(len(OWNER_TRAITS), size=n, p=OWNER_TRAIT_SHARES)
    # Older and bigger buildings start in worse shape; the rest is building-specific and unobserved.
    condition = rng.normal(0.0, 1.0, size=n) + 0.35 * (year < 1930) - 0.3 * (year > 1990) + 0.25 * (trait == 2)
    return Buildings(
        boro=boro,
        block=block,
        lot=lot,
        bin=bin_,
        building_id=rng.permutation(n) + rng.integers(10_000, 50_000),
        registration_id=np.where(registered, 100_000 + rng.permutation(n) * 2 + 1, 0),
        street=street,
        house=house,
        house_prefix=prefix,
        zip_index=zip_index,
        nta_index=nta_index,
        community_board=1 + (rng.random(n) * boards).astype(np.int64),
        council=lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64),
        census_tract=rng.integers(1, 1600, size=n) * 100 + rng.choice([0, 0, 0, 1, 2], size=n),
        latitude=center[:, 0] + rng.normal(0, 0.025, size=n),
        longitude=center[:, 1] + rng.normal(0, 0.03, size=n),
        units=units,
        floors=floors,
        year_built=year,
        bldgclass=bldgclass,
        ownertype=rng.choice(np.array(_OWNERTYPES), size=n, p=_OWNERTYPE_SHARES),
        owner_trait=trait,
        condition=condition,
    )


def _keys(rng: np.random.Generator, boro: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (block, lot) per borough and unique BINs; lots climb within a block like real tax maps."""
    n = len(boro)
    block = np.zeros(n, dtype=np.int64)
    lot = np.zeros(n, dtype=np.int64)
    bin_ = np.zeros(n, dtype=np.int64)
    for b in BOROUGHS:
        idx = np.flatnonzero(boro == b.code)
        if idx.size == 0:
            continue
        blocks = np.sort(rng.integers(1, b.max_block + 1, size=idx.size))
        steps = rng.integers(1, 9, size=idx.size)
        first_in_block = np.r_[True, blocks[1:] != blocks[:-1]]
        # Running lot number that restarts at each new block (cumsum minus the total before the block).
        csum = np.cumsum(steps)
        base = np.maximum.accumulate(np.where(first_in_block, csum - steps, 0))
        lots = csum - base
        lots = np.where(lots > 7499, 7499, lots)  # 7501-7599 are condo billing lots: stay below
        block[idx], lot[idx] = blocks, lots
        # Skip 0 so that no BIN is a placeholder N000000.
        bin_[idx] = b.code * 1_000_000 + 1 + rng.choice(999_998, size=idx.size, replace=False)
    return block, lot, bin_


def _sizes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kind = rng.choice(4, size=n, p=(0.42, 0.33, 0.19, 0.06))  # 1-2 family, walk-up, mid-rise, elevator
    units = np.select(
        [kind == 0, kind == 1, kind == 2],
        [rng.integers(1, 3, size=n), rng.integers(3, 21, size=n), rng.integers(20, 80, size=n)],
        default=np.minimum(60 + rng.lognormal(4.3, 0.7, size=n).astype(np.int64), 1500),
    )
    floors = np.select(
        [kind == 0, kind == 1, kind == 2],
        [rng.integers(1, 4, size=n), rng.integers(3, 7, size=n), rng.integers(5, 9, size=n)],
        default=rng.integers(8, 35, size=n),
    )
    classes = np.select(
        [kind == 0, kind == 1, kind == 2],
        [
            np.where(units == 1, rng.choice(["A1", "A5", "A9"], size=n), rng.choice(["B1", "B2", "B3"], size=n)),
            rng.choice(["C0", "C1", "C2", "C4", "C6", "S2"], size=n),
            rng.choice(["C1", "D1", "D6", "S3"], size=n),
        ],
        default=rng.choice(["D4", "D1", "D9", "R4"], size=n),
    )
    return units.astype(np.int64), floors.astype(np.int64), classes


def _years(rng: np.random.Generator, units: np.ndarray) -> np.ndarray:
    n = len(units)
    year = np.where(units >= 3, rng.integers(1899, 1965, size=n), rng.integers(1910, 2021, size=n))
    placeholder = rng.random(n) < 0.04
    year[placeholder] = rng.choice(_PLACEHOLDER_YEARS, size=int(placeholder.sum()))
    return year

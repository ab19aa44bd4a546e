"""Risk scores: one building, or up to 1000 in one call.

Answered in the gateway from stored scores (Redis, then PostgreSQL); the scorer is called only for real work:
computing a building that has no score (awaited) or recomputing a stale one (in the background, the stale
score is returned marked `stale: true`). Without an active model: 503, never a made-up score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from deployments.api.deps import Deps
from deployments.api.errors import ApiError, not_found
from deployments.api.params import BBL_PATTERN, BblPath
from deployments.api.security import deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from deployments.risk.store import ScoreRead
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.risk.history import score_history

router = APIRouter(prefix="/v1", tags=["risk"], dependencies=[Depends(refuse_unknown_query_params)])
RiskReader = Annotated[Principal, Depends(require(Permission.RISK_READ))]


class Scorer(BaseModel):
    scorer: Literal["model", "baseline"] = Field(
        description="model: the trained model; baseline: the weighted open-violation count, calibrated, served "
        "because no model beat it on the out-of-time test by more than its bootstrap interval"
    )
    version: str


class RiskScore(BaseModel):
    bbl: str
    scores: dict[str, int] = Field(description="overall, safety, legal, financial: 0-100 percentile among buildings")
    probabilities: dict[str, float] = Field(
        description="calibrated probability (0-1) of a new event of that kind in the next 12 months"
    )
    scorers: dict[str, Scorer] = Field(description="which scorer produced each score, and its version")
    trend: str
    reasons: list[Any] = Field(
        description="what pushed the overall score up, largest first: feature, text, the building's value, impact"
    )
    model_version: dict[str, str]
    as_of: date
    computed_at: datetime
    stale: bool = Field(description="newer data exists; a recomputation is under way")
    newest_data_at: datetime | None


class BatchRequest(BaseModel):
    # Checked one by one (BatchResponse.invalid), so one mistyped BBL does not cost the other 999 their answer.
    bbls: list[Annotated[str, StringConstraints(max_length=64)]] = Field(min_length=1, max_length=1000)


class BatchItem(BaseModel):
    bbl: str
    status: Literal["found", "not_found", "invalid"]
    reason: str | None = Field(default=None, description="why an invalid BBL is not one")


class BatchResponse(BaseModel):
    results: list[BatchItem] = Field(description="one answer per distinct BBL asked, in the order asked")
    scores: list[RiskScore]
    not_found: list[str]
    invalid: list[str]


def answer(read: ScoreRead) -> dict[str, Any]:
    """A stored score as the API answers it (the fields of RiskScore)."""
    s = read.score
    assert s is not None
    return {
        "bbl": read.bbl,
        "scores": s.scores,
        "probabilities": s.probabilities,
        "scorers": {k: {"scorer": s.scorers.get(k, "model"), "version": v} for k, v in s.model_versions.items()},
        "trend": s.trend,
        "reasons": s.reasons,
        "model_version": s.model_versions,
        "as_of": s.as_of,
        "computed_at": s.computed_at,
        "stale": read.stale,
        "newest_data_at": read.newest_data_at,
    }


async def resolve_scores(deps: Deps, bbls: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    reads: dict[str, ScoreRead] = await anyio.to_thread.run_sync(deps.scores.read, list(bbls))
    stale = [b for b, r in reads.items() if r.score is not None and r.stale]
    if stale:
        deps.scorer.refresh_in_background(stale)
    missing = [b for b, r in reads.items() if r.score is None and r.known]
    if missing:
        result = await deps.scorer.compute(missing)
        if result["unavailable"]:
            raise ApiError(503, "model_unavailable", result["unavailable"], headers={"Retry-After": "60"})
        for score in result["scores"]:
            read = reads[score.bbl]
            reads[score.bbl] = ScoreRead(score.bbl, True, score, False, read.newest_data_at)
    views = [answer(r) for r in reads.values() if r.score is not None]
    unknown = [b for b, r in reads.items() if not r.known]
    return views, unknown


@router.get("/properties/{bbl}/risk", response_model=RiskScore, summary="A building's risk scores")
async def property_risk(request: Request, bbl: BblPath, _: RiskReader) -> dict[str, Any]:
    views, unknown = await resolve_scores(deps_of(request), [bbl])
    if unknown or not views:
        raise not_found(f"property {bbl}")
    return views[0]


@router.post("/risk/batch", response_model=BatchResponse, summary="Risk scores of up to 1000 buildings")
async def batch_risk(request: Request, body: BatchRequest, _: RiskReader) -> dict[str, Any]:
    asked = list(dict.fromkeys(b.strip() for b in body.bbls))
    valid = [b for b in asked if re.fullmatch(BBL_PATTERN, b)]
    views, _ = await resolve_scores(deps_of(request), valid) if valid else ([], [])
    found = {v["bbl"] for v in views}
    results = []
    for bbl in asked:
        if bbl not in valid:
            results.append({"bbl": bbl, "status": "invalid", "reason": "a BBL is 10 digits, borough 1-5 first"})
        else:
            results.append({"bbl": bbl, "status": "found" if bbl in found else "not_found"})
    invalid = [r["bbl"] for r in results if r["status"] == "invalid"]
    not_found = [r["bbl"] for r in results if r["status"] == "not_found"]
    return {"results": results, "scores": views, "not_found": not_found, "invalid": invalid}


@router.get("/properties/{bbl}/risk/history", summary="A building's stored scores over time, oldest first")
def property_risk_history(request: Request, bbl: BblPath, _: RiskReader) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn:
        return {"bbl": bbl, "history": score_history(conn, bbl)}

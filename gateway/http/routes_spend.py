"""`/v1/spend`: the caller's own dollar spend and limits (never another key's)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from gateway.http.auth import ReaderDep, SessionDep
from gateway.http.routes_runs import ERRORS
from workers.public.schemas import SpendLinePublic, SpendPublic
from workers.public.spend import key_spend

router = APIRouter(prefix="/v1/spend", tags=["spend"])


@router.get("", response_model=SpendPublic, responses=ERRORS)
def get_spend(caller: ReaderDep, session: SessionDep) -> SpendPublic:
    """The key's spend in all, per UTC day and per UTC month, with its limits."""
    lines = key_spend(session, caller.key_id)
    return SpendPublic(lines=[SpendLinePublic(**asdict(line)) for line in lines])

"""The bare FastAPI endpoint the gateway is compared with: a POST with a pydantic body, nothing else.

Served by `uvicorn tests.bench.bare_app:app` (uvloop, httptools), as the gateway is.
"""

from __future__ import annotations

from datetime import date

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field


class Employer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    credit_code: str = Field(min_length=18, max_length=18)
    name: str = Field(min_length=2, max_length=200)
    division_code: str = Field(pattern=r"^[0-9]{6}$")
    industry_code: str = Field(pattern=r"^[A-T][0-9]{2,4}$")
    established_on: date


app = FastAPI()


@app.post("/v1/regions/{region}/employers", status_code=201)
async def register(region: str, body: Employer) -> dict[str, str]:
    return {"employer_id": f"employer-{body.credit_code}", "region": region}

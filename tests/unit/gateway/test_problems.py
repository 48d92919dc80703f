"""A contract refusing what a route built from the client's parameters is a 400 naming the field."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from contracts.arrears import commands as c
from gateway.problems import install


async def test_a_model_built_from_bad_parameters_is_a_400_not_a_500() -> None:
    app = FastAPI()
    install(app)

    @app.get("/cases")
    async def cases(district: str) -> str:
        c.ListDistrictCases(district=district)  # the route trusted a plain string
        return "ok"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/cases", params={"district": "940120"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "district"

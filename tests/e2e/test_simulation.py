"""The simulation through the real gateway and services: a small city's year reproduces its online share.

The small profile (docs/scenarios/nanchang-2021-small.json) is Nanchang 2021 scaled to 300 handled
services. With 300 counts a share moves in steps of 1/3 of a point, so the nearest the plan can come
to the reported 90.11% is 270/300 = 90.00%: the tolerance is half a count (50/300 = 0.167 points)
plus the profile's own rounding to two decimals (0.005). What the projections measure must then be
exactly what was planned: the same share to two decimals and the same counts by channel.
"""

from __future__ import annotations

from pathlib import Path

from gateway.simulation import Profile, build_plan, render, run_against
from runtime.workdays import local_date
from tests.cli import yiwang
from tests.conftest import Servers
from tests.stack import running_stack, served_over_http

SMALL = Path(__file__).parents[2] / "docs" / "scenarios" / "nanchang-2021-small.json"


async def test_a_small_citys_year_through_the_gateway_reproduces_its_online_share(
    servers: Servers, subject_root: str
) -> None:
    profile = Profile.load(SMALL)
    async with running_stack(servers, subject_root, services=("enrolment", "transfer"), regions=("36", "44")) as stack:
        plan = build_plan(profile, scale=1, seed=2021, today=local_date(stack.clock.now()))
        async with served_over_http(stack) as url:  # as `yiwang simulate` sends it: its own client, over HTTP
            report = await run_against(url, plan, stack.settings.jwt_secret, wait_seconds=120)
        print(render(report))
        answer = await stack.client.get(
            "/v1/regions/36/statistics/online-share",
            params={"first": report.first.isoformat(), "last": report.last.isoformat()},
            headers=stack.token(),
        )

    assert report.problems == []
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    assert figures["handled"] == plan.handled == 300
    assert figures["by_channel"] == dict(plan.by_channel)
    assert figures["online_share_percent"] == round(plan.online_share_percent, 2) == 90.0
    assert abs(figures["online_share_percent"] - float(profile.online_share_percent)) <= 50 / 300 + 0.005
    assert figures["counter_share_percent"] == plan.counter_share_percent == 10.0
    assert {"enrolment", "transfer"}.isdisjoint(figures["missing_services"])  # the others are not started here
    assert (report.employers, report.transfers_in, report.transfers_out) == (3, 4, 2)
    assert report.reproduced


async def test_yiwang_simulate_sends_the_year_and_says_whether_it_reproduced_the_profile(
    servers: Servers, subject_root: str
) -> None:
    """The command operators run (its own process, its own client, over HTTP): exit status 0 only
    when the projections reproduce the profile's online share."""
    async with (
        running_stack(servers, subject_root, services=("enrolment", "transfer"), regions=("36", "44")) as stack,
        served_over_http(stack) as url,
    ):
        ran = await yiwang(
            "simulate", str(SMALL), "--scale", "1", "--seed", "2021", "--gateway", url,
            jwt_secret=stack.settings.jwt_secret,
        )  # fmt: skip

    assert ran.status == 0, ran.out + ran.err
    assert "nanchang-2021-small, region 36, scale 1, seed 2021: " in ran.out
    assert "online share within 0.172 points of the profile's (half a count of 300): True" in ran.out
    assert "problems:" not in ran.out

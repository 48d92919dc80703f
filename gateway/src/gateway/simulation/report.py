"""The text report: the planned figures beside those measured from the projections and the profile's own."""

from __future__ import annotations

from gateway.simulation.driver import Report
from gateway.simulation.plan import share


def render(report: Report) -> str:
    """The figures side by side: planned, measured from the projections, the profile's scaled and as reported."""
    plan, profile = report.plan, report.plan.profile

    def scaled(figure: int) -> str:
        return f"{plan.scaled(figure).normalize():f}"

    rows: list[tuple[str, object, object, object, object]] = [
        ("handled services", plan.handled, report.handled, scaled(profile.total_handled), profile.total_handled)
    ]
    for channel in sorted(set(plan.by_channel) | set(report.by_channel)):
        rows.append((f"  {channel}", plan.by_channel.get(channel, 0), report.by_channel.get(channel, 0), "", ""))
    reported_counter = share(profile.offline_handled, profile.total_handled)
    rows += [
        ("online share %", f"{plan.online_share_percent:.2f}", f"{report.online_share_percent:.2f}", "", f"{profile.online_share_percent}"),
        ("counter share %", f"{plan.counter_share_percent:.2f}", f"{report.counter_share_percent:.2f}", "", f"{reported_counter:.2f}"),
        ("employers via the feed", plan.employers, report.employers, scaled(profile.employers_via_one_network), profile.employers_via_one_network),
        ("transfers in, completed", plan.transfers_in, report.transfers_in, scaled(profile.transfers_in), profile.transfers_in),
        ("transfers out", plan.transfers_out, report.transfers_out, scaled(profile.transfers_out), profile.transfers_out),
    ]  # fmt: skip
    lines = [
        f"{profile.name}, region {profile.region}, scale {plan.scale.normalize():f}, seed {plan.seed}: "
        f"{plan.calls} requests in {report.seconds:.1f}s, events dated {report.first}..{report.last}",
        f"{'':26}{'planned':>10}{'measured':>10}{'profile x scale':>17}{'profile':>10}",
        *(f"{a:26}{b!s:>10}{c!s:>10}{d!s:>17}{e!s:>10}" for a, b, c, d, e in rows),
        f"online share within {plan.tolerance_percent:.3f} points of the profile's (half a count of "
        f"{plan.handled}): {abs(report.online_share_percent - float(profile.online_share_percent)) <= plan.tolerance_percent}",
        "not simulated: consultations, the insured totals, work-injury settlements, wage arrears, self-service "
        "outlets (other services, or no route yet)",
    ]
    if report.retried:
        lines.append("sent again: " + ", ".join(f"{n} after {status}" for status, n in report.retried.items()))
    if report.problems:
        lines += [f"{len(report.problems)} problems:", *(f"  {p}" for p in report.problems[:20])]
    return "\n".join(lines)

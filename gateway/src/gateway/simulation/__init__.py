"""A year of a city's traffic from a profile (e.g. docs/scenarios/nanchang-2021.json), through the gateway.

`build_plan` is pure: from the profile, a scale and a seed it lays out, month by month, every request
a year of the city's enrolment and transfer work takes in the profile's region (and the few in a
second region that transfers need), and the handled services each adds to the online-share
projection, by channel. `run` sends the plan to a running gateway, waits until the projections
have caught up, and reads the figures back.

What is counted: the events each service names in its `HANDLED` set (enrolment: employer
registered, employee enrolled, employment ended, contribution paid, one per employee; transfer:
transfer applied), in the region where they happen. Employers come through the zero-touch feed
(channel `system`, the profile's `employers_registered_via_one_network`); employees are enrolled
and leave (a month's as files, up to 100 a request), each month assessed (a batch of employers a
request) and paid (collection files); workers move in from and out to the second region (the profile's
transfers in and out). Every other counted request gets a channel so that the online share of
the region's handled services is the profile's, to the nearest count (a file's lines all go
through its channel): offline work at the counter, online work split over web hall, mobile app and kiosk by `ONLINE_MIX` (the profile does
not split it).

The year is compressed into the run. The services stamp their events with their own clock, so
every event of the simulation is dated the day it runs; the year shows only in the business dates
(hired on, contribution months, paid on), which are the twelve months up to today's month, because
the services refuse a hiring date after today and have rate tables only for recent years. Query the
figures for the day(s) of the run, not for the profile's year.

In order of use: `profile` reads the figures, `plan` lays out the year, `driver` sends it and
measures, `report` puts the figures side by side.
"""

from gateway.simulation.driver import FigureNotReadError, run, run_against
from gateway.simulation.plan import Plan, build_plan, month_first, month_last, months_up_to
from gateway.simulation.profile import PlanError, Profile
from gateway.simulation.report import render

__all__ = [
    "FigureNotReadError",
    "Plan",
    "PlanError",
    "Profile",
    "build_plan",
    "month_first",
    "month_last",
    "months_up_to",
    "render",
    "run",
    "run_against",
]

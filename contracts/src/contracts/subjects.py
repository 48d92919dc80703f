"""Subject and stream names: the only place they are built.

`<root>.<region>.<service>.cmd.<command>`   request/reply, queue group per service
`<root>.<region>.<service>.query.<query>`   request/reply
`<root>.<region>.<service>.evt.<event>.v<N>` JetStream, stream `<ROOT>_<SERVICE>_<REGION>`
`<root>.<region>.<service>.in.<message>.v<N>` JetStream, stream `<ROOT>_<SERVICE>_INBOX_<REGION>`:
                                            messages from other regions addressed to this one
A configurable root lets tests run isolated subject spaces on one server.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("enrolment", "transfer", "arrears", "injury")


@dataclass(frozen=True, slots=True)
class Subjects:
    root: str = "yiwang"

    def command(self, region: str, service: str, name: str) -> str:
        return f"{self.root}.{region}.{service}.cmd.{name}"

    def query(self, region: str, service: str, name: str) -> str:
        return f"{self.root}.{region}.{service}.query.{name}"

    def event(self, region: str, service: str, name: str, version: int = 1) -> str:
        return f"{self.root}.{region}.{service}.evt.{name}.v{version}"

    def events_of(self, region: str, service: str) -> str:
        return f"{self.root}.{region}.{service}.evt.>"

    def events_stream(self, region: str, service: str) -> str:
        return f"{self.root.upper()}_{service.upper()}_{region}"

    def inbox(self, region: str, service: str, name: str, version: int = 1) -> str:
        """A message addressed to a service of another region, held in that region's inbox stream."""
        return f"{self.root}.{region}.{service}.in.{name}.v{version}"

    def inbox_of(self, region: str, service: str) -> str:
        return f"{self.root}.{region}.{service}.in.>"

    def inbox_stream(self, region: str, service: str) -> str:
        return f"{self.root.upper()}_{service.upper()}_INBOX_{region}"

    def traces(self, trace_id: str = "*") -> str:
        return f"{self.root}.traces.{trace_id}"

    def traces_stream(self) -> str:
        return f"{self.root.upper()}_TRACES"

    def calendar(self) -> str:
        return f"{self.root}.calendar.year_loaded"

"""Time as a dependency: services receive `now`, tests set it."""

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC now."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; what tests use instead of sleeping."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


def paris_today(now: datetime) -> date:
    """The organisation's calendar date at `now`."""
    return now.astimezone(PARIS).date()

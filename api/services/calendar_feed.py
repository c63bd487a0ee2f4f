"""The catalogue as an iCalendar feed, for calendar subscription."""

from datetime import datetime

from icalendar import Calendar, Event

from api.clock import PARIS
from models.training_session import SessionStatus, TrainingSession


def build_calendar(sessions: list[TrainingSession], *, org_name: str, domain: str) -> bytes:
    """One VEVENT per session, in Europe/Paris time, with its time zone definition."""
    calendar = Calendar()
    calendar.add("prodid", f"-//{org_name}//Ateliers//FR")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{org_name} - sessions de formation")
    calendar.add("x-wr-timezone", "Europe/Paris")
    for session in sessions:
        event = Event()
        event.add("uid", f"session-{session.id}@{domain}")
        event.add("dtstamp", session.updated_at)
        event.add("last-modified", session.updated_at)
        event.add("summary", session.title)
        event.add("dtstart", datetime.combine(session.start_date, session.daily_start_time, tzinfo=PARIS))
        event.add("dtend", datetime.combine(session.end_date, session.daily_end_time, tzinfo=PARIS))
        location = ", ".join(part for part in (session.venue, session.address, session.city) if part)
        event.add("location", location)
        description = "\n\n".join(part for part in (session.subtitle, session.summary) if part)
        if description:
            event.add("description", description)
        event.add("status", "CANCELLED" if session.status == SessionStatus.cancelled else "CONFIRMED")
        if session.contact_email:
            event.add("organizer", f"mailto:{session.contact_email}", parameters={"cn": org_name})
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()

"""The roster of a session, attendance by half-day, the attendance sheet and the certificate of
attendance (HTTP only: the rules are in api.services.attendance)."""

from fastapi import APIRouter, Response

from api.deps import (
    AttendanceSheets,
    ClockDep,
    CurrentUser,
    DbSession,
    OwnedApplication,
    SettingsDep,
    TaughtSession,
)
from api.documents.layout import Organisation
from api.documents.realisation import render_realisation
from api.edge.body_limits import BoundedBodyRoute
from api.edge.downloads import PDF_CONTENT, pdf_download
from api.edge.problem import problem_responses
from api.services import attendance as attendance_service
from models.attendance import AttendanceSheet, HalfDayRecord, Roster

router = APIRouter(tags=["attendance"], route_class=BoundedBodyRoute)

WHO = (
    " The trainers assigned to the session and the secretariat; anyone else, applicants and other "
    "trainers included, gets 404."
)


@router.get(
    "/sessions/{session_id}/roster",
    response_model=Roster,
    summary="List the accepted trainees of a session",
    description="By name: application id, trainee, organisation and job title, no billing." + WHO,
    responses=problem_responses(401, 404, 422),
)
def get_roster(session: TaughtSession, db: DbSession) -> Roster:
    return attendance_service.roster(db, session)


@router.put(
    "/sessions/{session_id}/attendance",
    response_model=HalfDayRecord,
    summary="Record who was present at a half-day",
    description="Replaces whatever was recorded for the same date and half-day, so sending it again "
    "changes nothing. The date must be within the session's dates, the half-day must have begun "
    "(Europe/Paris: a morning from midnight, an afternoon from 12:00) and every id must be an "
    "accepted application of the session (otherwise 422 `validation_error`); a repeated id counts once. "
    "Answers the half-day as recorded, ids sorted." + WHO,
    responses=problem_responses(401, 404, 422),
)
def record_attendance(
    data: HalfDayRecord, session: TaughtSession, actor: CurrentUser, db: DbSession, clock: ClockDep
) -> HalfDayRecord:
    return attendance_service.record_half_day(db, session, data, actor=actor, now=clock.now())


@router.get(
    "/sessions/{session_id}/attendance",
    response_model=AttendanceSheet,
    summary="Read the attendance of a session",
    description="Every accepted trainee, by name, with its half-days present and its hours attended." + WHO,
    responses=problem_responses(401, 404, 422),
)
def get_attendance(session: TaughtSession, db: DbSession, clock: ClockDep) -> AttendanceSheet:
    return attendance_service.attendance_sheet(db, session, now=clock.now())


@router.get(
    "/sessions/{session_id}/attendance/pdf",
    summary="Download the attendance sheet as PDF",
    description="The sheet funders ask for, in landscape A4: the session, the accepted trainees by "
    "half-day with their hours, and the trainers' signatures; long sessions and rosters run over "
    "several tables and pages. Rendered once per change of what it prints, and kept." + WHO,
    response_class=Response,
    responses={**PDF_CONTENT, **problem_responses(401, 404, 422)},
)
def get_attendance_pdf(
    session: TaughtSession, db: DbSession, settings: SettingsDep, clock: ClockDep, renders: AttendanceSheets
) -> Response:
    now = clock.now()
    content = attendance_service.sheet_content(
        db, session, organisation=Organisation.from_settings(settings), now=now
    )
    return pdf_download(renders.pdf(content, now=now), f"emargement-session-{session.id}.pdf")


@router.get(
    "/applications/{application_id}/attendance-certificate",
    summary="Download the certificate of attendance as PDF",
    description="The « certificat de réalisation » of an accepted application, stating the hours "
    "attended so far. An application that is not accepted, or whose session has not started yet "
    "(Europe/Paris), is 409 `not_eligible`. The applicant and the secretariat; anyone else, trainers "
    "included, gets 404.",
    response_class=Response,
    responses={**PDF_CONTENT, **problem_responses(401, 404, 409, 422)},
)
def get_attendance_certificate(
    application: OwnedApplication, db: DbSession, settings: SettingsDep, clock: ClockDep
) -> Response:
    now = clock.now()
    content = attendance_service.realisation_content(
        db, application, organisation=Organisation.from_settings(settings), now=now
    )
    return pdf_download(render_realisation(content, now=now), f"certificat-realisation-{application.id}.pdf")

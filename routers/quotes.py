"""Quotes: requested for an application, issued by the secretariat, accepted or declined by the payer."""

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from api.clock import paris_today
from api.deps import (
    ClockDep,
    CurrentUser,
    DbSession,
    HotWrites,
    OwnedApplication,
    OwnedQuote,
    QuoteId,
    SecretariatQuote,
    VisibleQuote,
)
from api.documents.layout import Organisation
from api.documents.quote import render_quote
from api.edge.body_limits import BoundedBodyRoute
from api.edge.downloads import PDF_CONTENT, pdf_download
from api.edge.json_answers import json_answer
from api.edge.problem import problem_responses
from api.services import quotes as quote_service
from models.quote import QuoteIssue, QuotePage, QuotePublic, QuoteQuery, QuoteUpdate

router = APIRouter(tags=["quotes"], route_class=BoundedBodyRoute)

WHO_SEES = (
    " The applicant sees its own quotes and the secretariat every quote; anyone else, trainers "
    "included, gets 404."
)


@router.post(
    "/applications/{application_id}/quotes",
    status_code=status.HTTP_201_CREATED,
    response_model=QuotePublic,
    summary="Ask for a quote for an application",
    description="The secretariat, or the applicant for its own live application (submitted, accepted or "
    "waitlisted; otherwise 409 `invalid_transition`) of a session not cancelled (409 "
    "`session_not_open`). The draft is computed from the session's price and "
    "the application's discount when it is approved.",
    responses=problem_responses(401, 404, 409, 422),
)
def request_quote(
    application: OwnedApplication, response: Response, db: DbSession, clock: ClockDep
) -> QuotePublic:
    now = clock.now()
    quote = quote_service.request_quote(db, application, now=now)
    response.headers["Location"] = f"/api/v1/quotes/{quote.id}"
    return quote_service.to_public(quote, today=paris_today(now))


@router.get(
    "/quotes",
    response_model=QuotePage,
    summary="List quotes",
    description="The applicant's own quotes, or every quote for the secretariat; trainers see none (403). "
    "`status=expired` finds the issued quotes past their validity date. Ordered by id.",
    responses=problem_responses(401, 403, 422),
)
def list_quotes(
    query: Annotated[QuoteQuery, Query()], actor: CurrentUser, db: DbSession, clock: ClockDep
) -> QuotePage:
    today = paris_today(clock.now())
    quotes, total = quote_service.list_quotes(
        db,
        actor,
        status=query.status,
        session_id=query.session_id,
        today=today,
        limit=query.limit,
        offset=query.offset,
    )
    return QuotePage(
        items=[quote_service.to_public(q, today=today) for q in quotes],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@router.get(
    "/quotes/{quote_id}",
    response_model=QuotePublic,
    summary="Read a quote",
    description="An issued quote past its validity date reads as `expired`." + WHO_SEES,
    responses=problem_responses(401, 404, 422),
)
def get_quote(quote: VisibleQuote, clock: ClockDep) -> QuotePublic:
    return quote_service.to_public(quote, today=paris_today(clock.now()))


@router.patch(
    "/quotes/{quote_id}",
    response_model=QuotePublic,
    summary="Change a draft quote's billed party or notes",
    description="Only while draft; afterwards 409 `quote_frozen`. The applicant may change `billed_to` "
    "(its `name` stays non-empty), only the secretariat `notes` (403 `forbidden`)." + WHO_SEES,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_quote(
    data: QuoteUpdate, quote: OwnedQuote, actor: CurrentUser, db: DbSession, clock: ClockDep
) -> QuotePublic:
    now = clock.now()
    return quote_service.to_public(
        quote_service.update_quote(db, quote, data, actor=actor, now=now), today=paris_today(now)
    )


@router.post(
    "/quotes/{quote_id}/issue",
    response_model=QuotePublic,
    summary="Issue a draft quote",
    description="The secretariat numbers the draft DEV-YYYY-NNNN (the year of the issue date in "
    "Europe/Paris, without gaps) and freezes its amounts and everything its PDF prints (the "
    "organisation's identity, the session's title, dates, hours and place); `valid_until` defaults to "
    "30 days later. The application must be live (409 `invalid_transition`) and the session not "
    "cancelled (409 `session_not_open`).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def issue_quote(
    request: Request,
    quote_id: QuoteId,
    actor: CurrentUser,
    writes: HotWrites,
    data: Annotated[QuoteIssue | None, Body()] = None,
) -> Response:
    # The quote is locked in the transaction that numbers and commits it: loaded by a dependency,
    # it stayed locked (on SQLite, the database) across two thread hops and the event loop's queue.
    now = request.app.state.clock.now()
    organisation = Organisation.from_settings(request.app.state.settings)
    quote = await writes.run(
        lambda db: quote_service.issue_quote(
            db, quote_id, data, actor=actor, organisation=organisation, now=now
        )
    )
    return json_answer(quote_service.to_public(quote, today=paris_today(now)))


@router.post(
    "/quotes/{quote_id}/accept",
    response_model=QuotePublic,
    summary="Accept an issued quote",
    description="While issued and valid (past `valid_until`, 409 `quote_expired`), its application live "
    "(409 `invalid_transition`) and its session not cancelled (409 `session_not_open`)." + WHO_SEES,
    responses=problem_responses(401, 404, 409, 422),
)
def accept_quote(quote: OwnedQuote, db: DbSession, clock: ClockDep) -> QuotePublic:
    now = clock.now()
    return quote_service.to_public(quote_service.accept_quote(db, quote, now=now), today=paris_today(now))


@router.post(
    "/quotes/{quote_id}/decline",
    response_model=QuotePublic,
    summary="Decline an issued quote",
    description="While issued and valid; past `valid_until`, 409 `quote_expired`." + WHO_SEES,
    responses=problem_responses(401, 404, 409, 422),
)
def decline_quote(quote: OwnedQuote, db: DbSession, clock: ClockDep) -> QuotePublic:
    now = clock.now()
    return quote_service.to_public(quote_service.decline_quote(db, quote, now=now), today=paris_today(now))


@router.post(
    "/quotes/{quote_id}/cancel",
    response_model=QuotePublic,
    summary="Cancel a draft or issued quote",
    description="The secretariat only; anything but a draft or a valid issued quote is 409 "
    "`invalid_transition`. An issued quote keeps its number.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def cancel_quote(quote: SecretariatQuote, db: DbSession, clock: ClockDep) -> QuotePublic:
    now = clock.now()
    return quote_service.to_public(quote_service.cancel_quote(db, quote, now=now), today=paris_today(now))


@router.get(
    "/quotes/{quote_id}/pdf",
    summary="Download an issued quote as PDF",
    description="One A4 page for the payer to sign, printed from what the quote kept at issue. A draft "
    "or a cancelled quote has no document: 409 `quote_not_issued`." + WHO_SEES,
    response_class=Response,
    responses={
        **PDF_CONTENT,
        **problem_responses(401, 404, 409, 422),
    },
)
def get_quote_pdf(quote: VisibleQuote) -> Response:
    content = quote_service.issued_quote(quote)
    return pdf_download(render_quote(content), f"{content.number}.pdf")

"""Typed dependencies: a handler's signature says who may call it and what it loads."""

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.clock import Clock, paris_today
from api.config import Settings
from api.db.transactions import WriteRunner, get_db, get_writes
from api.documents.attendance_sheet import AttendanceSheetRenders
from api.edge.http_cache import require_if_match, strong_etag
from api.errors import Forbidden, NotFound, Unauthorized
from api.security import Passwords
from api.services.applications import find_application, find_owned_application, may_read
from api.services.auth import Actor, authenticate
from api.services.certificates import find_certificate
from api.services.deliverables import find_deliverable, find_evaluation
from api.services.discounts import find_discount
from api.services.quotes import find_quote, find_secretariat_quote
from api.services.sessions import find_session, find_taught_session, to_public
from models.application import Application
from models.base import MAX_INT
from models.certificate import Certificate
from models.deliverable import Deliverable, Evaluation
from models.discount import Discount
from models.quote import Quote
from models.training_session import TrainingSession
from models.user import Role, User

DbSession = Annotated[Session, Depends(get_db, scope="function")]
# Writes the handler runs itself, each in a transaction of its own: `await writes.run(lambda db: ...)`.
HotWrites = Annotated[WriteRunner, Depends(get_writes)]


# Dependencies that only read what is at hand are async: no thread-pool hop per request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


async def get_attendance_sheets(request: Request) -> AttendanceSheetRenders:
    sheets: AttendanceSheetRenders = request.app.state.attendance_sheets
    return sheets


AttendanceSheets = Annotated[AttendanceSheetRenders, Depends(get_attendance_sheets)]


class BearerActor(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme of the OpenAPI document, resolved straight to the caller.

    One dependency rather than a chain of three (scheme, optional caller, required caller): FastAPI
    resolves each dependency of every authenticated request anew, and the chain was nearly half of
    the CPU of an applicant's own list and a sixth of a submission's. The token is checked and its
    account read on the event loop (api/db/row_reader.py): one indexed row, no thread hop, and no
    transaction left for the request's own work to wait on. Settings and clock come from the app's
    state, for the same reason.
    """

    def __init__(self, *, required: bool) -> None:
        super().__init__(
            tokenUrl="/api/v1/auth/token",
            # One scheme in the OpenAPI document, whichever instance a route depends on.
            scheme_name="OAuth2PasswordBearer",
            auto_error=False,
            description="An access token from `POST /auth/token`, or an API key.",
        )
        self.required = required

    async def __call__(self, request: Request) -> Actor | None:  # type: ignore[override]
        """The caller when a credential is sent; a bad credential is refused even on public routes."""
        bearer = await super().__call__(request)
        if bearer is None:
            if self.required:
                raise Unauthorized("This operation needs a bearer token or an API key.")
            return None  # anonymous: no database work at all
        if len(bearer) > 4096:
            raise Unauthorized("The credential is malformed.")
        state = request.app.state
        return await authenticate(state.rows, bearer, settings=state.settings, now=state.clock.now())


optional_actor = BearerActor(required=False)
require_actor = BearerActor(required=True)

OptionalActor = Annotated[Actor | None, Depends(optional_actor)]
CurrentUser = Annotated[Actor, Depends(require_actor)]


async def require_secretariat(actor: CurrentUser) -> Actor:
    if actor.role != Role.secretariat:
        raise Forbidden("Only the secretariat may do this.")
    return actor


Secretariat = Annotated[Actor, Depends(require_secretariat)]


async def require_secretariat_in_person(actor: Secretariat) -> Actor:
    if actor.api_key_id is not None:
        raise Forbidden("An API key cannot do this; log in with your own account.")
    return actor


# The secretariat with a user's own token, not an API key: what may mint API keys.
SecretariatInPerson = Annotated[Actor, Depends(require_secretariat_in_person)]

UserId = Annotated[int, Path(ge=1, le=MAX_INT, description="A user's id", examples=[4])]
ResourceId = Annotated[int, Path(ge=1, le=MAX_INT, examples=[1])]
SessionRef = Annotated[
    str,
    Path(
        alias="id_or_slug",
        min_length=1,
        max_length=120,
        pattern=r"^[a-z0-9-]+$",
        description="A session's numeric id or its slug",
        examples=["les-ateliers-des-cultures-numeriques-1"],
    ),
]


def load_visible_user(user_id: UserId, actor: CurrentUser, db: DbSession) -> User:
    """A user the caller may read: anyone for the secretariat, oneself for the others."""
    if actor.role != Role.secretariat and actor.id != user_id:
        raise NotFound("No user with this id.")
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    return user


VisibleUser = Annotated[User, Depends(load_visible_user)]


def load_editable_session(
    session_ref: SessionRef, actor: CurrentUser, db: DbSession, request: Request, clock: ClockDep
) -> TrainingSession:
    """A session the secretariat may change, locked for this transaction; 404 before 403, and
    412 when If-Match names another version than the detail's current ETag."""
    session = find_session(db, session_ref, include_private=actor.is_secretariat, for_update=True)
    if not actor.is_secretariat:
        raise Forbidden("Only the secretariat may change a session.")
    if "if-match" in request.headers:
        current = to_public(session, today=paris_today(clock.now())).model_dump_json().encode()
        require_if_match(request, strong_etag(current))
    return session


EditableSession = Annotated[TrainingSession, Depends(load_editable_session)]


def load_taught_session(session_id: ResourceId, actor: CurrentUser, db: DbSession) -> TrainingSession:
    """A session whose trainees the caller may follow: a trainer assigned to it, or the secretariat;
    404 for anyone else, although the session itself is public."""
    return find_taught_session(db, session_id, actor=actor)


TaughtSession = Annotated[TrainingSession, Depends(load_taught_session)]


def load_owned_application(application_id: ResourceId, actor: CurrentUser, db: DbSession) -> Application:
    """An application its owner or the secretariat may act on; 404 for anyone else, trainers included."""
    return find_owned_application(db, application_id, actor=actor)


OwnedApplication = Annotated[Application, Depends(load_owned_application)]


def load_readable_application(application_id: ResourceId, actor: CurrentUser, db: DbSession) -> Application:
    """An application the caller may read: the owner, the secretariat, or a trainer of the session
    once it is accepted; 404 for anyone else."""
    application = find_application(db, application_id)
    if not may_read(db, actor, application):
        raise NotFound("No application with this id.")
    return application


ReadableApplication = Annotated[Application, Depends(load_readable_application)]


def load_application_for_owner(application: ReadableApplication, actor: CurrentUser) -> Application:
    """An application only its owner may change; 403 for the others who may read it."""
    if application.applicant_id != actor.id:
        raise Forbidden("Only the applicant may change this application.")
    return application


# Unlocked here: the service locks the session row, then the application, in that order.
ApplicationOfOwner = Annotated[Application, Depends(load_application_for_owner)]


def load_withdrawable_application(application: ReadableApplication, actor: CurrentUser) -> Application:
    """An application its owner or the secretariat may withdraw; 403 for a trainer who reads it."""
    if not actor.is_secretariat and application.applicant_id != actor.id:
        raise Forbidden("Only the applicant or the secretariat may withdraw this application.")
    return application


WithdrawableApplication = Annotated[Application, Depends(load_withdrawable_application)]


def load_decidable_application(application: ReadableApplication, actor: CurrentUser) -> Application:
    """An application the secretariat decides on; 403 for the others who may read it."""
    if not actor.is_secretariat:
        raise Forbidden("Only the secretariat decides on applications.")
    return application


DecidableApplication = Annotated[Application, Depends(load_decidable_application)]


DiscountId = Annotated[int, Path(ge=1, le=MAX_INT, description="A discount's id", examples=[1])]
QuoteId = Annotated[int, Path(ge=1, le=MAX_INT, description="A quote's id", examples=[1])]


def load_editable_discount(discount_id: DiscountId, actor: CurrentUser, db: DbSession) -> Discount:
    """A discount the secretariat may change; 404 before 403."""
    discount = find_discount(db, discount_id, include_inactive=actor.is_secretariat)
    if not actor.is_secretariat:
        raise Forbidden("Only the secretariat may change a discount.")
    return discount


EditableDiscount = Annotated[Discount, Depends(load_editable_discount)]


def load_visible_quote(quote_id: QuoteId, actor: CurrentUser, db: DbSession) -> Quote:
    """A quote its applicant or the secretariat may read; 404 for anyone else (trainers included)."""
    return find_quote(db, quote_id, actor=actor)


VisibleQuote = Annotated[Quote, Depends(load_visible_quote)]


def load_owned_quote(quote_id: QuoteId, actor: CurrentUser, db: DbSession) -> Quote:
    """A quote its applicant or the secretariat may act on, locked for this transaction."""
    return find_quote(db, quote_id, actor=actor, for_update=True)


OwnedQuote = Annotated[Quote, Depends(load_owned_quote)]


def load_secretariat_quote(quote_id: QuoteId, actor: CurrentUser, db: DbSession) -> Quote:
    """A quote only the secretariat may act on, locked; 404 before 403."""
    return find_secretariat_quote(db, quote_id, actor=actor)


SecretariatQuote = Annotated[Quote, Depends(load_secretariat_quote)]


DeliverableId = Annotated[int, Path(ge=1, le=MAX_INT, description="A deliverable's id", examples=[1])]
EvaluationId = Annotated[int, Path(ge=1, le=MAX_INT, description="An evaluation's id", examples=[1])]
CertificateId = Annotated[int, Path(ge=1, le=MAX_INT, description="A certificate's id", examples=[1])]


def load_visible_deliverable(deliverable_id: DeliverableId, actor: CurrentUser, db: DbSession) -> Deliverable:
    """A deliverable the trainers of its session, the secretariat and its members may read; 404 otherwise."""
    return find_deliverable(db, deliverable_id, actor=actor)


VisibleDeliverable = Annotated[Deliverable, Depends(load_visible_deliverable)]


def load_visible_evaluation(evaluation_id: EvaluationId, actor: CurrentUser, db: DbSession) -> Evaluation:
    """An evaluation the caller may read (staff of the session; members once published); 404 otherwise."""
    return find_evaluation(db, evaluation_id, actor=actor)


VisibleEvaluation = Annotated[Evaluation, Depends(load_visible_evaluation)]


def load_visible_certificate(certificate_id: CertificateId, actor: CurrentUser, db: DbSession) -> Certificate:
    """A certificate its trainee or the secretariat may read; 404 for anyone else."""
    return find_certificate(db, certificate_id, actor=actor)


VisibleCertificate = Annotated[Certificate, Depends(load_visible_certificate)]


def load_certifiable_application(application: ReadableApplication, actor: CurrentUser) -> Application:
    """An application the secretariat issues a certificate for; 403 for the others who may read it."""
    if not actor.is_secretariat:
        raise Forbidden("Only the secretariat issues certificates.")
    return application


CertifiableApplication = Annotated[Application, Depends(load_certifiable_application)]

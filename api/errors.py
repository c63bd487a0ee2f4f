"""Domain errors: each has an HTTP status and a stable `code` that clients branch on.

Services raise these; `api.edge.problem` renders every one of them as problem+json.
"""

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the API answers on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # True when the work done before the error must still be committed (audit of a refusal).
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.errors = errors
        super().__init__(self.detail)


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(DomainError):
    status, code, title = 401, "invalid_credentials", "Invalid email or password"
    keeps_changes = True  # the failed attempt counts towards the login limit

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class RefreshTokenReused(Unauthorized):
    title = "Refresh token already used"
    keeps_changes = True  # the revocation of the family must survive the refusal


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_error", "Invalid request"

    def __init__(self, detail: str, *, loc: list[str | int]) -> None:
        super().__init__(detail, errors=[{"loc": loc, "msg": detail}])


class EmailTaken(DomainError):
    status, code, title = 409, "email_taken", "Email already registered"


class SlugTaken(DomainError):
    status, code, title = 409, "slug_taken", "Slug already used by another session"


class TooManyAttempts(DomainError):
    status, code, title = 429, "too_many_attempts", "Too many failed logins"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"Too many failed logins; try again in {retry_after_seconds} seconds.",
            headers={"Retry-After": str(retry_after_seconds)},
        )


class FailureOverLimit(TooManyAttempts):
    """A wrong password checked while others of its address were: past the address's limit, it is
    answered as a refusal, so that an address never learns more than its limit of wrong guesses."""

    keeps_changes = True  # the failure still counts against its account and its address


class InvalidTransition(DomainError):
    status, code, title = 409, "invalid_transition", "Transition not allowed from this state"


class CapacityBelowAccepted(DomainError):
    status, code, title = 409, "capacity_below_accepted", "Capacity below accepted trainees"


class PreconditionFailed(DomainError):
    status, code, title = 412, "precondition_failed", "The resource has changed"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class DocumentLimit(DomainError):
    status, code, title = 409, "document_limit", "The application holds as many documents as it may"


class DatabaseUnavailable(DomainError):
    status, code, title = 503, "database_unavailable", "Database unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class SessionNotOpen(DomainError):
    status, code, title = 409, "session_not_open", "Session not open for applications"


class DeadlinePassed(DomainError):
    status, code, title = 409, "deadline_passed", "Application deadline passed"


class AlreadyApplied(DomainError):
    status, code, title = 409, "already_applied", "Already applied to this session"


class SessionFull(DomainError):
    status, code, title = 409, "session_full", "Session full"


class UnknownDiscount(DomainError):
    status, code, title = 422, "unknown_discount", "Unknown discount"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"loc": ["body", "discount_code"], "msg": detail}])


class DiscountCodeTaken(DomainError):
    status, code, title = 409, "discount_code_taken", "Discount code already used"


class QuoteFrozen(DomainError):
    status, code, title = 409, "quote_frozen", "Quote already issued; its content is frozen"


class QuoteExpired(DomainError):
    status, code, title = 409, "quote_expired", "Quote past its validity date"


class QuoteNotIssued(DomainError):
    status, code, title = 409, "quote_not_issued", "Quote not issued"


class NotEligible(DomainError):
    status, code, title = 409, "not_eligible", "Not eligible"


class AlreadyEvaluated(DomainError):
    status, code, title = 409, "already_evaluated", "Deliverable already evaluated by this trainer"


class FeedbackAlreadyGiven(DomainError):
    status, code, title = 409, "feedback_already_given", "Feedback already given"

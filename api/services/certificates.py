"""Training certificates: issued once for an accepted trainee of a completed session, printed as an
"attestation de fin de formation", and verifiable by anyone through a random public code."""

import secrets
from datetime import datetime
from typing import cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.documents.certificate import IssuedCertificate
from api.documents.layout import Organisation
from api.errors import NotEligible, NotFound
from api.services.attendance import hours_attended, trainee_position
from api.services.auth import Actor
from api.services.deliverables import published_results
from models.application import Application, ApplicationStatus
from models.certificate import (
    Certificate,
    CertificateAsIssued,
    CertificatePublic,
    CertificateVerification,
    EvaluationResult,
)
from models.training_session import SessionAsIssued, SessionStatus, TrainingSession
from models.user import User

# 32 bytes: 256 bits of randomness, 43 URL-safe characters.
CODE_BYTES = 32
CODE_PATTERN = r"^[A-Za-z0-9_-]{20,64}$"


def verification_url(base_url: str, code: str) -> str:
    """The public address that confirms a certificate."""
    return f"{base_url.rstrip('/')}/api/v1/certificates/verify/{code}"


def to_public(certificate: Certificate) -> CertificatePublic:
    return CertificatePublic(**certificate.model_dump())


def _existing(db: Session, application: Application) -> Certificate | None:
    return db.exec(select(Certificate).where(Certificate.application_id == application.id)).first()


def issue_certificate(
    db: Session, application: Application, *, actor: Actor, organisation: Organisation, now: datetime
) -> tuple[Certificate, bool]:
    """The application's certificate and whether it was made now: an accepted application of a
    completed session gets one, once; asking again gives the same one back. Everything it prints is
    taken now."""
    existing = _existing(db, application)
    if existing is not None:
        return existing, False
    session = db.get(TrainingSession, application.session_id)
    assert session is not None  # foreign key
    if application.status != ApplicationStatus.accepted:
        raise NotEligible(
            f"Only an accepted application gets a certificate; this one is {application.status}."
        )
    if session.status != SessionStatus.completed:
        raise NotEligible(f"A certificate is issued once the session is completed; it is {session.status}.")
    trainee = db.get(User, application.applicant_id)
    assert trainee is not None  # foreign key
    as_issued = CertificateAsIssued(
        organisation=organisation.as_issued(),
        trainee_name=trainee.full_name,
        trainee_position=trainee_position(application),
        session=SessionAsIssued.model_validate(session, from_attributes=True),
        objectives=session.objectives,
        results=[
            EvaluationResult(title=title, score=score, max_score=max_score)
            for title, score, max_score in published_results(db, application)
        ],
    )
    certificate = Certificate(
        application_id=cast(int, application.id),
        code=secrets.token_urlsafe(CODE_BYTES),
        hours_attended=hours_attended(db, application, now=now),
        issued_by_id=actor.id,
        issued_at=now,
        as_issued=as_issued.model_dump(mode="json"),
    )
    try:
        # A concurrent issue for the same application loses on the unique constraint, then reads
        # the winner's certificate: both callers get the same one.
        with db.begin_nested():
            db.add(certificate)
            db.flush()
    except IntegrityError:
        winner = _existing(db, application)
        if winner is None:
            raise
        return winner, False
    return certificate, True


def find_certificate(db: Session, certificate_id: int, *, actor: Actor) -> Certificate:
    """A certificate its trainee or the secretariat may read; NotFound for anyone else."""
    certificate = db.get(Certificate, certificate_id)
    application = db.get(Application, certificate.application_id) if certificate is not None else None
    if (
        certificate is None
        or application is None
        or not (actor.is_secretariat or application.applicant_id == actor.id)
    ):
        raise NotFound("No certificate with this id.")
    return certificate


def _kept(certificate: Certificate) -> CertificateAsIssued:
    """What the certificate took at issue: all it prints and tells."""
    return CertificateAsIssued.model_validate(certificate.as_issued)


def verify(db: Session, code: str) -> CertificateVerification:
    """What the public verification address tells: who, which training, when, how many hours."""
    certificate = db.exec(select(Certificate).where(Certificate.code == code)).first()
    if certificate is None:
        raise NotFound("No certificate with this code.")
    kept = _kept(certificate)
    return CertificateVerification(
        valid=True,
        trainee_name=kept.trainee_name,
        session_title=kept.session.title,
        start_date=kept.session.start_date,
        end_date=kept.session.end_date,
        hours_attended=certificate.hours_attended,
        issued_at=certificate.issued_at,
    )


def issued_certificate(certificate: Certificate, *, base_url: str) -> IssuedCertificate:
    """What the certificate's document prints: what it took at issue, and the verification address
    under `base_url`, where the service is reached today."""
    return IssuedCertificate(
        number=cast(int, certificate.id),
        issued_at=certificate.issued_at,
        hours_attended=certificate.hours_attended,
        kept=_kept(certificate),
        verification_url=verification_url(base_url, certificate.code),
    )

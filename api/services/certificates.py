"""Training certificates: issued once for an accepted trainee of a completed session, printed as an
"attestation de fin de formation", and verifiable by anyone through a random public code."""

import io
import secrets
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import cast

import segno
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.clock import paris_today
from api.documents.layout import Document, Organisation, french_date, french_date_range, french_time
from api.errors import NotEligible, NotFound
from api.services.attendance import hours_attended
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
TWENTY = Decimal(20)
HUNDREDTH = Decimal("0.01")


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
        trainee_position=", ".join(p for p in (application.job_title, application.organisation) if p),
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


def _hours(value: Decimal) -> str:
    text = format(value.normalize(), "f").replace(".", ",")
    return f"{text} heure{'s' if value >= 2 else ''}"


def _score(value: Decimal) -> str:
    return format(value.quantize(HUNDREDTH, rounding=ROUND_HALF_UP).normalize(), "f").replace(".", ",")


def _qr_png(url: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=10, border=2)
    buffer.seek(0)
    return buffer


def render_certificate_pdf(certificate: Certificate, *, base_url: str) -> bytes:
    """The "attestation de fin de formation" (article L6353-1 du Code du travail) on one A4 page,
    printed from what the certificate took at issue; only its verification address follows
    `base_url`, where the service is reached today."""
    kept = _kept(certificate)
    organisation, session = Organisation(**kept.organisation), kept.session
    issued_on = paris_today(certificate.issued_at)
    reference = f"Attestation n° {certificate.id}"
    pdf = Document(organisation, title=reference, reference=reference, created=certificate.issued_at)
    pdf.title_block(
        "ATTESTATION DE FIN DE FORMATION",
        [("N°", str(certificate.id)), ("Date", french_date(issued_on))],
    )
    pdf.ln(3)
    pdf.paragraph(
        f"{organisation.name}, organisme de formation, atteste que :",
    )
    pdf.ln(1)
    pdf.paragraph(kept.trainee_name, bold=True, size=13, height=6)
    if kept.trainee_position:
        pdf.paragraph(kept.trainee_position)
    pdf.ln(1)
    pdf.paragraph("a suivi l’action de formation :")
    pdf.paragraph(session.title, bold=True, size=11, height=5.5)

    pdf.section("Nature de l’action")
    pdf.paragraph(
        "Action de formation professionnelle continue, au sens de l’article L6313-1 du Code du travail."
    )
    pdf.section("Dates et durée")
    parts = [part for part in (session.venue, session.address) if part]
    if session.city and not any(session.city.casefold() in part.casefold() for part in parts):
        parts.append(session.city)  # not "75003 Paris, Paris"
    place = ", ".join(dict.fromkeys(parts))
    pdf.paragraph(
        f"{french_date_range(session.start_date, session.end_date, weekday=True).capitalize()}, "
        f"{session.days} jours, soit {session.hours} heures de formation "
        f"({french_time(session.daily_start_time)} – {french_time(session.daily_end_time)})"
        + (f" · {place}" if place else "")
    )
    pdf.paragraph(
        f"Durée effectivement suivie : {_hours(certificate.hours_attended)} sur {session.hours} heures.",
        bold=True,
    )
    if kept.objectives:
        pdf.section("Objectifs de la formation")
        for objective in kept.objectives:
            pdf.paragraph(f"•  {objective}")
    results = kept.results
    pdf.section("Résultats de l’évaluation des acquis")
    if results:
        for result in results:
            pdf.paragraph(
                f"•  {result.title} (production collective) : {_score(result.score)} / {result.max_score}"
            )
        average = sum((r.score / r.max_score * TWENTY for r in results), Decimal(0)) / len(results)
        pdf.paragraph(f"Moyenne des évaluations, ramenée sur 20 : {_score(average)} / 20", bold=True)
    else:
        pdf.paragraph("Aucune évaluation publiée des productions du stagiaire.")

    pdf.ln(4)
    top = pdf.get_y()
    url = verification_url(base_url, certificate.code)
    size = 34.0
    pdf.image(_qr_png(url), x=pdf.l_margin, y=top, w=size, h=size)
    pdf.set_xy(pdf.l_margin + size + 3, top + 2)
    pdf.set_font("DejaVu", "B", 8)
    width = pdf.content_width / 2 - size - 6
    pdf.multi_cell(width, 4, "Vérifier cette attestation", new_x="LEFT", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7)
    pdf.multi_cell(width, 3.6, url, new_x="LEFT", new_y="NEXT")
    pdf.set_y(top)
    pdf.signature_block(
        f"Fait le {french_date(issued_on)}",
        [f"Pour {organisation.name}", "Nom et qualité du signataire :", "Signature et cachet :"],
        height=size,
    )
    return pdf.render()

"""The training certificate ("attestation de fin de formation", article L6353-1 du Code du travail),
with a QR code of the address that verifies it."""

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import segno

from api.clock import paris_today
from api.documents.layout import Document, Organisation, french_date, french_date_range, french_time
from models.certificate import CertificateAsIssued

TWENTY = Decimal(20)
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class IssuedCertificate:
    """What a certificate prints: what it took at issue, and the address that verifies it today."""

    number: int
    issued_at: datetime
    hours_attended: Decimal
    kept: CertificateAsIssued
    verification_url: str


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


def render_certificate(certificate: IssuedCertificate) -> bytes:
    """The "attestation de fin de formation" on one A4 page, printed from what the certificate took
    at issue and its verification address."""
    kept = certificate.kept
    organisation, session = Organisation(**kept.organisation), kept.session
    issued_on = paris_today(certificate.issued_at)
    reference = f"Attestation n° {certificate.number}"
    pdf = Document(organisation, title=reference, reference=reference, created=certificate.issued_at)
    pdf.title_block(
        "ATTESTATION DE FIN DE FORMATION",
        [("N°", str(certificate.number)), ("Date", french_date(issued_on))],
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
    url = certificate.verification_url
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

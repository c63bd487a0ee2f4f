"""The certificate of attendance ("certificat de réalisation") of a trainee: the hours attended so far."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from api.documents.layout import (
    Document,
    Organisation,
    french_date,
    french_date_range,
    french_hours,
    french_time,
    session_place,
)
from models.training_session import SessionAsIssued


@dataclass(frozen=True)
class RealisationContent:
    """Everything the certificat de réalisation prints, as of the day it is made."""

    application_id: int
    trainee_name: str
    trainee_position: str
    session: SessionAsIssued
    hours_attended: Decimal
    made_on: date
    organisation: Organisation


def render_realisation(content: RealisationContent, *, now: datetime) -> bytes:
    """The certificat de réalisation on one A4 page, signed by the organisation."""
    organisation, session, today = content.organisation, content.session, content.made_on
    pdf = Document(
        organisation,
        title=f"Certificat de réalisation — {content.trainee_name}",
        reference=f"Certificat de réalisation · candidature {content.application_id}",
        created=now,
    )
    pdf.title_block(
        "CERTIFICAT DE RÉALISATION",
        [("Candidature n°", str(content.application_id)), ("Date", french_date(today))],
    )
    pdf.ln(4)
    pdf.paragraph(
        f"Je soussigné·e, représentant·e légal·e de l’organisme de formation {organisation.name}, "
        f"{organisation.address}, atteste que :",
        size=10,
        height=5.5,
    )
    pdf.ln(2)
    pdf.paragraph(content.trainee_name, bold=True, size=12, height=6.5)
    if content.trainee_position:
        pdf.paragraph(content.trainee_position, size=10, height=5.5)
    pdf.ln(2)
    pdf.paragraph("a suivi l’action", size=10, height=5.5)
    pdf.paragraph(session.title, bold=True, size=11, height=6)
    pdf.ln(1)
    pdf.section("Nature de l’action")
    pdf.paragraph(
        "Action de formation professionnelle continue, au sens de l’article L6313-1 du Code du travail "
        "(action concourant au développement des compétences : action de formation).",
        size=10,
        height=5.5,
    )
    pdf.section("Session")
    pdf.paragraph(
        f"{french_date_range(session.start_date, session.end_date).capitalize()} · "
        f"durée : {session.days} jours, soit {session.hours} heures · "
        f"{french_time(session.daily_start_time)} – {french_time(session.daily_end_time)}",
        size=10,
        height=5.5,
    )
    pdf.paragraph(f"Lieu : {session_place(session)}", size=10, height=5.5)
    pdf.section("Assiduité")
    so_far = "" if today > session.end_date else f" à la date du {french_date(today)}"
    pdf.paragraph(
        f"Durée effectivement suivie{so_far} : {french_hours(content.hours_attended)} heures "
        f"sur {session.hours} heures prévues.",
        bold=True,
        size=10,
        height=5.5,
    )
    pdf.paragraph(
        f"Heures calculées par demi-journée de présence émargée : {session.hours} heures réparties "
        f"sur {session.days * 2} demi-journées.",
        size=8.5,
    )
    pdf.ln(4)
    pdf.paragraph(
        "Sans préjudice des délais imposés par les règles fixées par le financeur, l’organisme de "
        "formation conserve l’ensemble des pièces justificatives ayant permis d’établir le présent "
        "certificat pendant une durée de 3 ans à compter de la fin de l’année du dernier paiement.",
        size=8,
    )
    pdf.ln(4)
    pdf.paragraph(f"Fait à {organisation.city or '…'}, le {french_date(today)}.", size=10, height=5.5)
    pdf.ln(3)
    pdf.signature_block(
        "Le représentant de l’organisme de formation",
        ["Nom et qualité du signataire :", "Signature et cachet :"],
        height=36,
    )
    return pdf.render()

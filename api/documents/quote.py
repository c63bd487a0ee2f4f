"""The quote ("devis"): one A4 page for the payer to sign."""

from dataclasses import dataclass
from datetime import date, datetime

from api.clock import paris_today
from api.documents.layout import Document, Organisation, euros, french_date, french_date_range, french_time
from models.quote import BilledParty, QuoteAsIssued, QuoteLine


@dataclass(frozen=True)
class IssuedQuote:
    """What an issued quote prints: its own columns and what it kept at issue."""

    number: str
    issued_at: datetime
    valid_until: date
    billed_to: BilledParty
    lines: tuple[QuoteLine, ...]
    subtotal_cents: int
    discount_cents: int
    total_cents: int
    vat_note: str
    notes: tuple[str, ...]
    kept: QuoteAsIssued


def render_quote(quote: IssuedQuote) -> bytes:
    """The issued quote as one A4 page a payer can sign: the same text whenever it is drawn, whatever
    became of the session or the settings."""
    organisation, session = Organisation(**quote.kept.organisation), quote.kept.session
    issued_on = paris_today(quote.issued_at)
    pdf = Document(
        organisation,
        title=f"Devis {quote.number}",
        reference=f"Devis {quote.number}",
        created=quote.issued_at,
    )
    pdf.title_block(
        "DEVIS",
        [
            ("N°", quote.number),
            ("Date", french_date(issued_on)),
            ("Valable jusqu’au", french_date(quote.valid_until)),
        ],
    )
    pdf.ln(3)
    top = pdf.get_y()
    half = (pdf.content_width - 6) / 2
    issuer = [(organisation.name, True), (organisation.address, False)]
    issuer += [(text, False) for text in (organisation.email, organisation.phone) if text]
    left = pdf.boxed(pdf.l_margin, top, half, issuer, title="Organisme de formation")
    billed_to = quote.billed_to
    billed = [(billed_to.name, True)]
    billed += [(text, False) for text in (billed_to.organisation, billed_to.address, billed_to.email) if text]
    right = pdf.boxed(pdf.l_margin + half + 6, top, half, billed, title="Adressé à")
    pdf.set_y(max(left, right) + 3)

    pdf.section("Objet : action de formation professionnelle continue")
    pdf.paragraph(session.title, bold=True, size=10)
    schedule = (
        f"{french_date_range(session.start_date, session.end_date, weekday=True).capitalize()} · "
        f"{session.days} jours, soit {session.hours} heures de formation · "
        f"{french_time(session.daily_start_time)} – {french_time(session.daily_end_time)}"
    )
    pdf.paragraph(schedule)
    place = ", ".join(dict.fromkeys(part for part in (session.venue, session.address, session.city) if part))
    pdf.paragraph(f"Lieu : {place}")
    pdf.ln(2)

    pdf.amounts_table(
        ("Désignation", "Qté", "Prix unitaire", "Montant"),
        [
            (line.label, str(line.quantity), euros(line.unit_price_cents), euros(line.amount_cents))
            for line in quote.lines
        ],
        (96, 12, 35, 35),
    )
    pdf.ln(2)
    totals = [("Sous-total", euros(quote.subtotal_cents), False)]
    if quote.discount_cents:
        totals.append(("Réduction", euros(-quote.discount_cents), False))
    totals += [("TVA (0 %)", euros(0), False), ("Total net à payer", euros(quote.total_cents), True)]
    pdf.totals(totals)
    pdf.ln(2)
    pdf.paragraph(quote.vat_note, size=8.5)
    for note in quote.notes:
        pdf.paragraph(note, size=8.5)
    pdf.paragraph(
        f"Devis valable jusqu’au {french_date(quote.valid_until)}. Pour l’accepter, retournez-le daté "
        "et signé, avec la mention « Bon pour accord ».",
        size=8.5,
    )
    pdf.ln(4)
    pdf.signature_block(
        "Bon pour accord",
        ["Date :", "Nom et qualité du signataire :", "Signature et cachet de l’employeur :"],
        height=34,
    )
    return pdf.render()

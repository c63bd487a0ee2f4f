"""The layout every document of the organisation shares: embedded fonts, the letterhead with the
organisation's identity, the footer, tables, and dates and amounts written the French way.

Every document of the package draws with it; none reads the database: each is drawn from what a
service hands it.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from api.config import Settings
from models.training_session import SessionAsIssued

# Shipped inside the package, so accents, ’ and € render on any machine.
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
NBSP = "\u00a0"
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 78, 121)
RULE = (206, 212, 218)
SHADE = (236, 241, 246)

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


@dataclass(frozen=True)
class Organisation:
    """Who issues the document; what is unset is left out, never invented."""

    name: str
    address: str
    email: str = ""
    phone: str = ""
    siret: str = ""
    training_declaration: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "Organisation":
        return cls(
            name=settings.org_name,
            address=settings.org_address,
            email=settings.org_email,
            phone=settings.org_phone,
            siret=settings.org_siret,
            training_declaration=settings.org_training_declaration,
        )

    def as_issued(self) -> dict[str, str]:
        """The identity as a document issued now keeps it (`Organisation(**kept)` gives it back)."""
        return dataclasses.asdict(self)

    @property
    def city(self) -> str:
        """The town of the address, where documents are made: "1, rue …, 38000 Grenoble" -> "Grenoble"."""
        last = self.address.rsplit(",", 1)[-1].strip()
        return last.split(" ", 1)[1].strip() if last[:1].isdigit() and " " in last else last


def euros(cents: int) -> str:
    """An amount the French way: "1 800,00 €" (no-break spaces), "-200,00 €"."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", NBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def french_hours(hours: Decimal, *, fixed: bool = False) -> str:
    """A number of hours the French way, without needless decimals ("45", "3,75", "7,50") unless
    `fixed`, for columns that align ("45,00")."""
    if not fixed and hours == hours.to_integral_value():
        return str(int(hours))
    return f"{hours:.2f}".replace(".", ",")


def french_date(day: date, *, weekday: bool = False) -> str:
    """ "14 janvier 2027", or "jeudi 14 janvier 2027"; the first of the month is "1er"."""
    number = "1er" if day.day == 1 else str(day.day)
    text = f"{number} {MONTHS[day.month - 1]} {day.year}"
    return f"{WEEKDAYS[day.weekday()]} {text}" if weekday else text


def french_time(moment: time) -> str:
    """ "9 h 30", "17 h"."""
    return f"{moment.hour} h {moment.minute:02d}" if moment.minute else f"{moment.hour} h"


def french_date_range(start: date, end: date, *, weekday: bool = False) -> str:
    """ "du 7 au 12 mars 2016", "du 28 février au 4 mars 2027", "le 3 mai 2027"."""
    if start == end:
        return f"le {french_date(start, weekday=weekday)}"
    last = french_date(end, weekday=weekday)
    first = french_date(start, weekday=weekday)
    if start.year == end.year:
        first = first.rsplit(" ", 1)[0]
        if start.month == end.month:
            first = first.rsplit(" ", 1)[0]
    return f"du {first} au {last}"


def session_place(session: SessionAsIssued) -> str:
    """Venue, address and city, the city left out when the address already names it."""
    city = "" if session.city.casefold() in session.address.casefold() else session.city
    return ", ".join(dict.fromkeys(part for part in (session.venue, session.address, city) if part))


class Document(FPDF):
    """An A4 page of the organisation: letterhead at the top, identity and page number at the foot."""

    def __init__(
        self,
        organisation: Organisation,
        *,
        title: str,
        reference: str,
        created: datetime,
        orientation: Literal["portrait", "landscape"] = "portrait",
    ) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.organisation = organisation
        self.reference = reference
        self.add_font(FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_margins(left=16, top=12, right=16)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_title(title)
        self.set_author(organisation.name)
        self.set_creator("Ateliers")
        self.set_creation_date(created)
        self.set_text_color(*INK)
        self.add_page()

    @property
    def content_width(self) -> float:
        return float(self.w - self.l_margin - self.r_margin)

    def header(self) -> None:
        org = self.organisation
        self.set_font(FAMILY, "B", 12)
        self.set_text_color(*ACCENT)
        self.cell(0, 6, org.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*MUTED)
        self.set_font(FAMILY, "", 8)
        contact = "  ·  ".join(
            part for part in (org.address, f"Tél. {org.phone}" if org.phone else "", org.email) if part
        )
        self.multi_cell(0, 4, contact, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        legal = [f"SIRET {org.siret}"] if org.siret else []
        if org.training_declaration:
            legal.append(
                f"Déclaration d’activité enregistrée sous le numéro {org.training_declaration} "
                "(cet enregistrement ne vaut pas agrément de l’État)"
            )
        if legal:
            self.multi_cell(0, 4, "  ·  ".join(legal), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.5)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(*MUTED)
        identity = self.organisation.name + (
            f" · SIRET {self.organisation.siret}" if self.organisation.siret else ""
        )
        self.cell(self.content_width * 0.75, 4, f"{identity} · {self.reference}")
        self.cell(0, 4, f"Page {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(*INK)

    def title_block(self, title: str, lines: Sequence[tuple[str, str]]) -> None:
        """A large title on the right, with labelled lines under it ("N°", "Date")."""
        top = self.get_y()
        self.set_font(FAMILY, "B", 20)
        self.set_text_color(*ACCENT)
        self.cell(0, 9, title, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        for label, value in lines:
            self.set_font(FAMILY, "", 9)
            self.cell(self.content_width - 48, 5, f"{label} ", align="R")
            self.set_font(FAMILY, "B", 9)
            self.cell(48, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(self.get_y(), top))

    def section(self, title: str) -> None:
        """A small upper-case heading."""
        self.ln(2)
        self.set_font(FAMILY, "B", 9)
        self.set_text_color(*ACCENT)
        self.cell(0, 5, title.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def paragraph(self, text: str, *, size: float = 9, bold: bool = False, height: float = 4.4) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.multi_cell(0, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def boxed(
        self, x: float, y: float, width: float, lines: Sequence[tuple[str, bool]], *, title: str
    ) -> float:
        """A framed block of lines (text, bold) at (x, y); returns its bottom."""
        self.set_xy(x, y)
        self.set_font(FAMILY, "B", 8)
        self.set_text_color(*MUTED)
        self.cell(width, 5, title.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        for text, bold in lines:
            self.set_x(x + 2)
            self.set_font(FAMILY, "B" if bold else "", 9)
            self.multi_cell(width - 4, 4.4, text, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottom = self.get_y() + 2
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.rect(x, y, width, bottom - y)
        return float(bottom)

    def amounts_table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> None:
        """Lines of a bill: the first column wraps, the others are numbers aligned right."""
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.set_font(FAMILY, "", 9)
        with self.table(
            col_widths=tuple(widths),
            text_align=("LEFT",) + ("RIGHT",) * (len(widths) - 1),
            headings_style=FontFace(emphasis="BOLD", fill_color=SHADE, color=INK),
            line_height=5,
            padding=(1.2, 2),
            borders_layout="HORIZONTAL_LINES",
        ) as table:
            table.row(list(header))
            for values in rows:
                table.row(list(values))

    def totals(self, rows: Sequence[tuple[str, str, bool]], *, width: float = 82) -> None:
        """Label and amount pairs aligned on the right; the bold ones are shaded."""
        for label, amount, bold in rows:
            self.set_x(self.w - self.r_margin - width)
            self.set_font(FAMILY, "B" if bold else "", 10 if bold else 9)
            if bold:
                self.set_fill_color(*SHADE)
            self.cell(width - 34, 6.5 if bold else 5.5, label, fill=bold, align="L")
            self.cell(
                34, 6.5 if bold else 5.5, amount, fill=bold, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )

    def signature_block(self, title: str, fields: Sequence[str], *, height: float = 30) -> None:
        """A framed area for a handwritten signature, with its labelled fields."""
        width = self.content_width / 2
        y = self.get_y()
        self._signature_frame(self.w - self.r_margin - width, y, width, height, title, fields)
        self.set_y(y + height)

    def _signature_frame(
        self, x: float, y: float, width: float, height: float, title: str, fields: Sequence[str]
    ) -> None:
        self.set_draw_color(*INK)
        self.set_line_width(0.3)
        self.rect(x, y, width, height)
        self.set_xy(x + 2, y + 1.5)
        self.set_font(FAMILY, "B", 9)
        self.cell(width - 4, 5, title, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FAMILY, "", 8)
        for field in fields:
            self.set_x(x + 2)
            self.cell(width - 4, 5, field, new_x=XPos.LEFT, new_y=YPos.NEXT)

    def attendance_grid(
        self,
        day_heads: Sequence[tuple[str, int]],
        half_heads: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        lead: tuple[str, str],
        total: str,
    ) -> None:
        """People by half-day: a number and a name, one narrow column per half-day under its day's
        heading (label, columns spanned), a total on the right; both heading rows repeat on each page."""
        count = len(half_heads)
        number_width, total_width = 9.0, 17.0
        half_width = 15.0
        name_width = self.content_width - number_width - total_width - half_width * count
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.set_font(FAMILY, "", 8.5)
        with self.table(
            width=self.content_width,
            col_widths=(number_width, name_width, *([half_width] * count), total_width),
            text_align=("RIGHT", "LEFT", *(["CENTER"] * count), "RIGHT"),
            headings_style=FontFace(emphasis="BOLD", fill_color=SHADE, color=INK, size_pt=7.5),
            num_heading_rows=2,
            line_height=5,
            padding=(1, 1.2),
            borders_layout="ALL",
            v_align="MIDDLE",
        ) as table:
            head = table.row()
            head.cell(lead[0], rowspan=2)
            head.cell(lead[1], rowspan=2)
            for label, span in day_heads:
                head.cell(label, colspan=span, align="CENTER")
            head.cell(total, rowspan=2, align="RIGHT")
            sub = table.row()
            for label in half_heads:
                sub.cell(label, align="CENTER")
            for values in rows:
                table.row(list(values))

    def signature_row(self, titles: Sequence[str], fields: Sequence[str], *, height: float = 26) -> None:
        """Framed areas side by side, one per signatory, wrapping to the next line or page."""
        per_line = 3
        width = (self.content_width - 6 * (per_line - 1)) / per_line
        for start in range(0, len(titles), per_line):
            if self.get_y() + height > self.page_break_trigger:
                self.add_page()
            y = self.get_y()
            for column, title in enumerate(titles[start : start + per_line]):
                x = self.l_margin + column * (width + 6)
                self._signature_frame(x, y, width, height, title, fields)
            self.set_y(y + height + 4)

    def render(self) -> bytes:
        return bytes(self.output())

"""Documents joined to an application: typed by parsing their bytes, at most 5 MiB each and 10
documents or 20 MiB per live application, stored under the server's names, served back safely and
deleted with their files, to the owner and the secretariat only."""

import hashlib
import io
import os
import socket
import struct
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fpdf import FPDF
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, PdfObject, TextStringObject
from sqlalchemy import text

from api.cli import main as ateliers_cli
from api.clock import FixedClock
from api.config import Settings, get_settings
from api.db.engine import open_session
from api.errors import PayloadTooLarge
from api.services import application_files as application_file_service
from models.application import ApplicationDocument
from tests.conftest import PASSWORD, START, TEST_SECRET_KEY, AppClient, LiveServer, UserFactory
from tests.factories import apply, insert_application, published_session
from tests.problems import assert_problem, assert_unauthorized

MIB = 1024 * 1024
MAX = 5 * MIB


# Sample files, built here from their formats' own rules.
def pdf_bytes(size: int | None = None) -> bytes:
    """A minimal valid PDF, padded with a PDF comment to `size` bytes when given."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    tail = b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    if size is not None:
        padding = size - len(out) - len(tail)
        out += b"%" + b"x" * (padding - 2) + b"\n"
    out += tail
    if size is not None:
        assert len(out) == size
    return bytes(out)


def fpdf_bytes() -> bytes:
    """A one-page PDF as fpdf2, the service's own PDF library, writes it."""
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Camille Durand, curriculum vitae")
    return bytes(document.output())


def pillow_bytes(image_format: str, size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=image_format)
    return buffer.getvalue()


def png_bytes() -> bytes:
    return pillow_bytes("PNG")


def jpeg_bytes() -> bytes:
    return pillow_bytes("JPEG")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zip_bytes(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            # OpenDocument stores its `mimetype` member first and uncompressed.
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


ODT_CONTENT = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
    b"<office:body><office:text><text:p>Lettre de motivation</text:p></office:text></office:body>"
    b"</office:document-content>"
)
WORD_NAMESPACE = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_DOCUMENT = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<w:document xmlns:w="' + WORD_NAMESPACE + b'"><w:body><w:p><w:r><w:t>Curriculum vitae</w:t>'
    b"</w:r></w:p></w:body></w:document>"
)
DOCX_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'wordprocessingml.document.main+xml"/></Types>'
)
DOCX_RELATIONSHIPS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="word/document.xml"/></Relationships>'
)


def odt_bytes(
    mimetype: bytes = b"application/vnd.oasis.opendocument.text", content: bytes = ODT_CONTENT
) -> bytes:
    return zip_bytes(("mimetype", mimetype), ("content.xml", content))


def docx_bytes(document: bytes = DOCX_DOCUMENT, *extra: tuple[str, bytes]) -> bytes:
    return zip_bytes(
        ("[Content_Types].xml", DOCX_CONTENT_TYPES),
        ("_rels/.rels", DOCX_RELATIONSHIPS),
        ("word/document.xml", document),
        *extra,
    )


ACCEPTED = {
    "pdf": (pdf_bytes(), "application/pdf"),
    "pdf from fpdf2": (fpdf_bytes(), "application/pdf"),
    "odt": (odt_bytes(), "application/vnd.oasis.opendocument.text"),
    "docx": (docx_bytes(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "png": (png_bytes(), "image/png"),
    "jpeg": (jpeg_bytes(), "image/jpeg"),
}


def pdf_with(**entries: PdfObject) -> bytes:
    """A one-page PDF written by pypdf, with these entries added to its catalog."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    for name, value in entries.items():
        writer._root_object[NameObject(f"/{name}")] = value
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def action(kind: str, **entries: PdfObject) -> DictionaryObject:
    return DictionaryObject(
        {NameObject("/S"): NameObject(f"/{kind}"), **{NameObject(f"/{k}"): v for k, v in entries.items()}}
    )


def pdf_with_javascript_in_its_names() -> bytes:
    """Document-level JavaScript, as Acrobat runs it when the file opens."""
    script = action("JavaScript", JS=TextStringObject("app.alert('hello');"))
    tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("greeting"), script])})
    return pdf_with(Names=DictionaryObject({NameObject("/JavaScript"): tree}))


def pdf_with_a_javascript_link() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject(
                [NumberObject(0), NumberObject(0), NumberObject(99), NumberObject(99)]
            ),
            NameObject("/A"): action(
                "JavaScript", JS=TextStringObject("app.launchURL('https://x.example');")
            ),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares this size, over a few bytes of pixels: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b']><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">'
    b"&lol9;</office:document-content>"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"

# Files whose first bytes claim an accepted type, and which that type's parser refuses.
PRETENDERS = {
    "docx whose main part is garbage, beside a program and a page": zip_bytes(
        ("[Content_Types].xml", DOCX_CONTENT_TYPES),
        ("word/document.xml", b"garbage, not XML"),
        ("payload.exe", b"MZ\x90\x00"),
        ("index.html", HTML),
    ),
    "odt with its mimetype member and nothing else": zip_bytes(
        ("mimetype", b"application/vnd.oasis.opendocument.text")
    ),
    "odt whose content is not OpenDocument": odt_bytes(content=DOCX_DOCUMENT),
    "odt whose content expands entities": odt_bytes(content=BILLION_LAUGHS),
    "docx whose content types name no Word document": zip_bytes(
        ("[Content_Types].xml", DOCX_CONTENT_TYPES.replace(b"/word/document.xml", b"/word/other.xml")),
        ("word/document.xml", DOCX_DOCUMENT),
    ),
    "docm (macros)": zip_bytes(
        (
            "[Content_Types].xml",
            DOCX_CONTENT_TYPES.replace(
                b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                b"application/vnd.ms-word.document.macroEnabled.main+xml",
            ),
        ),
        ("word/document.xml", DOCX_DOCUMENT),
    ),
    "pdf header before html": b"%PDF-1.7\n" + HTML,
    "png signature before html": b"\x89PNG\r\n\x1a\n" + HTML,
    "three-byte jpeg header": b"\xff\xd8\xff",
    "truncated jpeg": jpeg_bytes()[:200],
    "png decompression bomb": png_claiming(100_000, 100_000),
    "pdf with an /OpenAction in JavaScript": pdf_with(
        OpenAction=action("JavaScript", JS=TextStringObject("app.alert('pwned');"))
    ),
    "pdf with an /OpenAction launching a program": pdf_with(
        OpenAction=action("Launch", F=TextStringObject("C:\\Windows\\System32\\calc.exe"))
    ),
    "pdf with a document action in JavaScript": pdf_with(
        AA=DictionaryObject({NameObject("/WC"): action("JavaScript", JS=TextStringObject("app.alert(1);"))})
    ),
    "pdf with a JavaScript names tree": pdf_with_javascript_in_its_names(),
    "pdf with a JavaScript link annotation": pdf_with_a_javascript_link(),
}

LIARS = {
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"This program",
    "html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "plain zip": zip_bytes(("notes.txt", b"hello")),
    "xlsx": zip_bytes(("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")),
    "ods": odt_bytes(b"application/vnd.oasis.opendocument.spreadsheet"),
    "text": b"Curriculum vitae\nCamille Durand\n",
    "empty": b"",
}


@pytest.fixture
def storage(settings: Settings) -> Path:
    return Path(settings.storage_dir)


def stored_files(storage: Path) -> list[Path]:
    return sorted(path for path in storage.rglob("*") if path.is_file())


@pytest.fixture
def owner(make_user: UserFactory) -> TestClient:
    return make_user("applicant", full_name="Camille Durand")


@pytest.fixture
def application_id(app: FastAPI, secretariat: TestClient, owner: TestClient, clock: FixedClock) -> int:
    session = published_session(secretariat)
    return int(apply(owner, session["id"])["id"])


def upload(
    client: TestClient,
    application_id: int,
    content: bytes,
    *,
    filename: str = "cv.pdf",
    content_type: str = "application/pdf",
    kind: str | None = None,
):
    data = {"kind": kind} if kind is not None else None
    return client.post(
        f"/applications/{application_id}/documents",
        files={"file": (filename, content, content_type)},
        data=data,
    )


# Accepted types: decided from the bytes, kept byte for byte.


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_each_accepted_type_is_stored_and_downloaded_byte_identical(
    owner: TestClient, application_id: int, storage: Path, name: str
) -> None:
    content, media_type = ACCEPTED[name]
    # The name and the part's header say nothing true: only the bytes decide.
    answer = upload(owner, application_id, content, filename="scan.bin", content_type="text/plain")
    assert answer.status_code == 201, answer.text
    document = answer.json()
    assert answer.headers["location"] == f"/api/v1/applications/{application_id}/documents/{document['id']}"
    assert document["media_type"] == media_type
    assert document["size_bytes"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert (document["kind"], document["filename"], document["application_id"]) == (
        "other",
        "scan.bin",
        application_id,
    )

    files = stored_files(storage)
    assert len(files) == 1
    assert files[0].read_bytes() == content
    # The server's own name: random, with the suffix of the detected type, nothing of the client's.
    assert "scan" not in files[0].name
    assert files[0].suffix == application_file_service.SUFFIXES[media_type]

    download = owner.get(f"/applications/{application_id}/documents/{document['id']}")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == media_type
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"scan.bin\"; filename*=UTF-8''scan.bin"
    )


def test_the_listing_shows_every_document_with_its_kind_oldest_first(
    owner: TestClient, application_id: int
) -> None:
    cv = upload(owner, application_id, pdf_bytes(), filename="cv.pdf", kind="cv").json()
    letter = upload(owner, application_id, odt_bytes(), filename="lettre.odt", kind="letter").json()
    photo = upload(owner, application_id, jpeg_bytes(), filename="photo.jpg").json()

    listing = owner.get(f"/applications/{application_id}/documents")

    assert listing.status_code == 200
    assert listing.json() == {"items": [cv, letter, photo]}
    assert [d["kind"] for d in listing.json()["items"]] == ["cv", "letter", "other"]
    assert set(cv) == {
        "id",
        "application_id",
        "kind",
        "media_type",
        "filename",
        "size_bytes",
        "sha256",
        "created_at",
    }


# Refusals leave nothing behind.


def assert_nothing_kept(client: TestClient, application_id: int, storage: Path) -> None:
    assert client.get(f"/applications/{application_id}/documents").json() == {"items": []}
    assert stored_files(storage) == []


@pytest.mark.parametrize("name", list(LIARS))
def test_a_file_that_is_not_an_accepted_type_is_415_whatever_it_claims(
    owner: TestClient, application_id: int, storage: Path, name: str
) -> None:
    answer = upload(owner, application_id, LIARS[name], filename="cv.pdf", content_type="application/pdf")

    assert_problem(answer, 415, "unsupported_media_type")
    assert_nothing_kept(owner, application_id, storage)


@pytest.mark.parametrize("name", list(PRETENDERS))
def test_a_file_that_does_not_parse_as_the_type_it_claims_or_runs_code_is_415(
    owner: TestClient, secretariat: TestClient, application_id: int, storage: Path, name: str
) -> None:
    answer = upload(owner, application_id, PRETENDERS[name], filename="cv.pdf")

    assert_problem(answer, 415, "unsupported_media_type")
    assert_nothing_kept(owner, application_id, storage)
    # The secretariat's uploads are checked the same way.
    assert_problem(upload(secretariat, application_id, PRETENDERS[name]), 415, "unsupported_media_type")
    assert_nothing_kept(secretariat, application_id, storage)


def test_a_docx_whose_main_part_declares_a_huge_size_is_415_without_reading_it(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    # 64 MiB of XML that deflates to a few KiB: a zip bomb, refused from the archive's directory.
    padding = b"<w:p/>" * (64 * MIB // 6)
    bomb = docx_bytes(DOCX_DOCUMENT.replace(b"<w:body>", b"<w:body>" + padding))
    assert len(bomb) < MIB

    answer = upload(owner, application_id, bomb, filename="cv.docx")

    assert_problem(answer, 415, "unsupported_media_type")
    assert_nothing_kept(owner, application_id, storage)


def test_a_docx_with_other_members_beside_a_valid_main_part_is_accepted(
    owner: TestClient, application_id: int
) -> None:
    content = docx_bytes(DOCX_DOCUMENT, ("word/media/image1.png", png_bytes()), ("docProps/app.xml", b"<x/>"))
    answer = upload(owner, application_id, content, filename="cv.docx")
    assert answer.status_code == 201, answer.text
    assert answer.json()["media_type"] == ACCEPTED["docx"][1]


def test_a_docx_typing_its_main_part_by_the_default_of_its_extension_is_accepted(
    owner: TestClient, application_id: int
) -> None:
    # OPC lets a package type its parts by extension: a Default for "xml" instead of an Override.
    content_types = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        b'<Default Extension="XML" ContentType="application/vnd.openxmlformats-officedocument.'
        b'wordprocessingml.document.main+xml"/></Types>'
    )
    content = zip_bytes(
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", DOCX_RELATIONSHIPS),
        ("word/document.xml", DOCX_DOCUMENT),
    )
    answer = upload(owner, application_id, content, filename="cv.docx")
    assert answer.status_code == 201, answer.text
    assert answer.json()["media_type"] == ACCEPTED["docx"][1]


def test_an_odt_whose_mimetype_member_names_another_type_is_415(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    lying = odt_bytes(b"application/vnd.oasis.opendocument.text-template")
    assert_problem(upload(owner, application_id, lying, filename="cv.odt"), 415, "unsupported_media_type")
    assert_nothing_kept(owner, application_id, storage)


def test_a_six_mebibyte_upload_is_413_and_leaves_nothing(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    answer = upload(owner, application_id, pdf_bytes(6 * MIB))

    assert_problem(answer, 413, "payload_too_large")
    assert_nothing_kept(owner, application_id, storage)


def test_a_file_under_the_body_limit_but_over_five_mebibytes_is_413_from_the_document_limit(
    owner: TestClient, application_id: int, storage: Path, settings: Settings
) -> None:
    content = pdf_bytes(MAX + MIB // 2)
    assert len(content) + 1024 < settings.max_body_bytes  # the middleware lets this body through

    answer = upload(owner, application_id, content)

    body = assert_problem(answer, 413, "payload_too_large")
    assert str(MAX) in body["detail"]
    assert answer.headers["connection"] == "close"
    assert_nothing_kept(owner, application_id, storage)


def test_one_byte_over_five_mebibytes_is_413(owner: TestClient, application_id: int, storage: Path) -> None:
    assert_problem(upload(owner, application_id, pdf_bytes(MAX + 1)), 413, "payload_too_large")
    assert_nothing_kept(owner, application_id, storage)


def test_exactly_five_mebibytes_is_accepted(owner: TestClient, application_id: int, storage: Path) -> None:
    content = pdf_bytes(MAX)

    answer = upload(owner, application_id, content)

    assert answer.status_code == 201, answer.text
    assert answer.json()["size_bytes"] == MAX
    assert [path.read_bytes() == content for path in stored_files(storage)] == [True]


def test_the_limit_stops_reading_the_body_as_soon_as_it_is_passed(tmp_path: Path) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield head + b"%PDF-1.4\n"
        for _ in range(100):  # 100 MiB offered
            pulled += 1
            yield b"x" * MIB

    async def run() -> None:
        await application_file_service.receive_document(
            ApplicationStub(),  # type: ignore[arg-type]
            body(),
            content_type=f"multipart/form-data; boundary={boundary}",
            storage_dir=tmp_path,
        )

    with pytest.raises(PayloadTooLarge):
        anyio.run(run)
    assert pulled == 5  # 5 MiB + the header: the sixth mebibyte is never asked for
    assert stored_files(tmp_path) == []


class ApplicationStub:
    id = 1
    status = "submitted"


def test_a_body_without_a_file_part_is_422(owner: TestClient, application_id: int, storage: Path) -> None:
    # A multipart body whose only part is the `kind` field.
    answer = owner.post(f"/applications/{application_id}/documents", files={"kind": (None, "cv")})
    assert_problem(answer, 422, "validation_error")
    assert_nothing_kept(owner, application_id, storage)


def test_a_body_that_is_not_multipart_is_415(owner: TestClient, application_id: int, storage: Path) -> None:
    answer = owner.post(f"/applications/{application_id}/documents", json={"file": "JVBERi0="})
    assert_problem(answer, 415, "unsupported_media_type")
    assert_nothing_kept(owner, application_id, storage)


def test_an_unknown_kind_is_422_and_leaves_nothing(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    answer = upload(owner, application_id, pdf_bytes(), kind="passport")
    body = assert_problem(answer, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "kind"]
    assert_nothing_kept(owner, application_id, storage)


def test_a_malformed_multipart_body_is_422(owner: TestClient, application_id: int, storage: Path) -> None:
    answer = owner.post(
        f"/applications/{application_id}/documents",
        content=b"--xyz\r\nthis is not a part header\r\n\r\n%PDF",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert answer.status_code in (415, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert_nothing_kept(owner, application_id, storage)


def test_no_database_lock_is_held_while_the_file_streams_in(
    app: FastAPI, owner: TestClient, application_id: int
) -> None:
    boundary = "l0ck"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cv.pdf"\r\n\r\n'.encode(),
        pdf_bytes(),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    writes_during_upload: list[str] = []

    def body() -> Iterator[bytes]:
        yield parts[0]
        # Another request's write, while this upload is still arriving: it must not wait.
        with open_session(app.state.engine, write=True) as db:
            db.execute(text("UPDATE user_account SET full_name = full_name WHERE id = 0"))
            db.commit()
        writes_during_upload.append("done")
        yield parts[1]
        yield parts[2]

    started = time.monotonic()
    answer = owner.post(
        f"/applications/{application_id}/documents",
        content=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(sum(len(part) for part in parts)),
        },
    )

    assert answer.status_code == 201, answer.text
    assert writes_during_upload == ["done"]
    assert time.monotonic() - started < 2  # not a write that waited out the lock timeout


# Who may see and add documents.


@pytest.fixture
def document_id(owner: TestClient, application_id: int) -> int:
    answer = upload(owner, application_id, pdf_bytes(), kind="cv")
    assert answer.status_code == 201, answer.text
    document: int = answer.json()["id"]
    return document


def test_the_secretariat_lists_downloads_and_adds_documents(
    secretariat: TestClient, application_id: int, document_id: int
) -> None:
    listing = secretariat.get(f"/applications/{application_id}/documents").json()
    assert [d["id"] for d in listing["items"]] == [document_id]
    download = secretariat.get(f"/applications/{application_id}/documents/{document_id}")
    assert (download.status_code, download.content) == (200, pdf_bytes())
    added = upload(secretariat, application_id, png_bytes(), filename="scan-courrier.png")
    assert added.status_code == 201, added.text


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_anyone_else_gets_404_on_every_document_endpoint(
    make_user: UserFactory, application_id: int, document_id: int, storage: Path, role: str
) -> None:
    stranger = make_user(role)
    base = f"/applications/{application_id}/documents"

    assert_problem(stranger.get(base), 404, "not_found")
    assert_problem(stranger.get(f"{base}/{document_id}"), 404, "not_found")
    assert_problem(upload(stranger, application_id, pdf_bytes()), 404, "not_found")
    assert len(stored_files(storage)) == 1  # the owner's document only


def test_anonymous_callers_get_401_on_every_document_endpoint(
    anonymous: TestClient, application_id: int, document_id: int
) -> None:
    base = f"/applications/{application_id}/documents"
    assert_unauthorized(anonymous.get(base))
    assert_unauthorized(anonymous.get(f"{base}/{document_id}"))
    assert_unauthorized(upload(anonymous, application_id, pdf_bytes()))


def test_an_unknown_application_or_a_document_of_another_application_is_404(
    app: FastAPI,
    secretariat: TestClient,
    owner: TestClient,
    application_id: int,
    document_id: int,
    clock: FixedClock,
) -> None:
    other_session = published_session(secretariat, title="Les ateliers des cultures numériques #4")
    other_id = apply(owner, other_session["id"])["id"]
    assert_problem(owner.get("/applications/999999/documents"), 404, "not_found")
    assert_problem(upload(owner, 999999, pdf_bytes()), 404, "not_found")
    assert_problem(owner.get(f"/applications/{other_id}/documents/{document_id}"), 404, "not_found")
    assert_problem(owner.get(f"/applications/{application_id}/documents/999999"), 404, "not_found")


# The name the uploader gave never steers a header or a path.

HOSTILE = 'a"b\r\nX: y/../é.pdf'


def assert_safe_disposition(header: str) -> tuple[str, str]:
    """The header has the two forms and nothing that could break out of them; returns both names."""
    assert "\r" not in header and "\n" not in header
    prefix, rest = header.split('filename="', 1)
    assert prefix == "attachment; "
    fallback, rest = rest.split('"; ', 1)
    assert all(ch.isascii() and (ch.isalnum() or ch in "._()+ -") for ch in fallback), fallback
    assert rest.startswith("filename*=UTF-8''")
    encoded = rest.removeprefix("filename*=UTF-8''")
    assert all(ch.isascii() and (ch.isalnum() or ch in "%._-~") for ch in encoded), encoded
    utf8_name = unquote(encoded)
    assert not any(ch in utf8_name for ch in '\r\n"/\\') and all(ord(ch) >= 0x20 for ch in utf8_name)
    return fallback, utf8_name


def test_a_hostile_filename_is_cleaned_on_upload(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    answer = upload(owner, application_id, pdf_bytes(), filename=HOSTILE)

    assert answer.status_code == 201, answer.text
    # The client percent-encodes `"` and CR LF (HTML5 forms); the server keeps the last path component.
    assert answer.json()["filename"] == "é.pdf"
    download = owner.get(f"/applications/{application_id}/documents/{answer.json()['id']}")
    assert "x" not in download.headers
    assert assert_safe_disposition(download.headers["content-disposition"]) == ("e.pdf", "é.pdf")
    assert all("é" not in path.name and ".." not in path.name for path in stored_files(storage))


def test_raw_quotes_controls_and_backslashes_in_a_multipart_filename_are_removed(
    owner: TestClient, application_id: int
) -> None:
    boundary = "r4w"
    # A quoted-string with an escaped quote, a tab, an escape character and a Windows path.
    disposition = 'form-data; name="file"; filename="C:\\\\temp\\\\..\\\\a\\"b\tc\x1bd.pdf"'
    body = (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        + pdf_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = owner.post(
        f"/applications/{application_id}/documents",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["filename"] == 'a"bcd.pdf'
    download = owner.get(f"/applications/{application_id}/documents/{answer.json()['id']}")
    assert assert_safe_disposition(download.headers["content-disposition"]) == ("a_bcd.pdf", "a_bcd.pdf")


def test_the_download_header_is_safe_even_for_a_stored_name_that_was_never_cleaned(
    app: FastAPI, owner: TestClient, application_id: int, document_id: int
) -> None:
    with open_session(app.state.engine, write=True) as db:
        document = db.get(ApplicationDocument, document_id)
        assert document is not None
        document.filename = HOSTILE
        db.commit()

    download = owner.get(f"/applications/{application_id}/documents/{document_id}")

    assert download.status_code == 200
    assert "x" not in download.headers
    fallback, utf8_name = assert_safe_disposition(download.headers["content-disposition"])
    assert utf8_name == "a_bX: y_.._é.pdf"
    assert fallback == "a_bX_ y_.._e.pdf"


# The worker sweeps files that no row names.


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_the_sweep_removes_old_unnamed_files_and_stray_partial_uploads_only(
    app: FastAPI, owner: TestClient, application_id: int, document_id: int, storage: Path, clock: FixedClock
) -> None:
    folder = application_file_service.documents_folder(storage)
    (referenced,) = stored_files(storage)
    orphan = folder / "0123456789abcdef0123456789abcdef.pdf"
    partial = folder / "fedcba9876543210fedcba9876543210.part"
    recent = folder / "00000000000000000000000000000000.pdf"
    for path in (orphan, partial, recent):
        path.write_bytes(pdf_bytes())
    now = clock.now()
    for path in (referenced, orphan, partial):
        os.utime(path, ((now - timedelta(hours=2)).timestamp(),) * 2)
    os.utime(recent, ((now - timedelta(minutes=5)).timestamp(),) * 2)

    with open_session(app.state.engine, write=False) as db:
        removed = application_file_service.remove_orphan_files(db, storage_dir=storage, now=now)

    assert removed == 2
    assert stored_files(storage) == sorted([referenced, recent])


@pytest.fixture
def ateliers(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """Run `ateliers ARGS...` against this test's database and storage."""
    monkeypatch.setenv("ATELIERS_ENV", "test")
    monkeypatch.setenv("ATELIERS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("ATELIERS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ATELIERS_STORAGE_DIR", settings.storage_dir)
    get_settings.cache_clear()
    yield ateliers_cli
    get_settings.cache_clear()


def test_ateliers_worker_deletes_an_orphan_file_and_keeps_a_referenced_one(
    ateliers, owner: TestClient, application_id: int, document_id: int, storage: Path, capsys
) -> None:
    (referenced,) = stored_files(storage)
    # A crash between writing a file and committing its row leaves exactly this.
    orphan = application_file_service.documents_folder(storage) / "0123456789abcdef0123456789abcdef.docx"
    orphan.write_bytes(docx_bytes())
    age(orphan, 2 * 3600)
    age(referenced, 2 * 3600)

    assert ateliers(["worker", "--once"]) == 0

    assert "removed 1 orphan document files" in capsys.readouterr().out
    assert stored_files(storage) == [referenced]
    download = owner.get(f"/applications/{application_id}/documents/{document_id}")
    assert download.content == pdf_bytes()


# Bounds per application, and the application's lifecycle.


def insert_documents(app: FastAPI, application_id: int, count: int, *, size_bytes: int = 1000) -> None:
    """Document rows written straight to the database, as earlier uploads would have left them."""
    with open_session(app.state.engine, write=True) as db:
        for _ in range(count):
            db.add(
                ApplicationDocument(
                    application_id=application_id,
                    media_type="application/pdf",
                    filename="earlier.pdf",
                    storage_name=f"{uuid.uuid4().hex}.pdf",
                    size_bytes=size_bytes,
                    sha256="0" * 64,
                    created_at=START,
                )
            )
        db.commit()


def document_ids(client: TestClient, application_id: int) -> list[int]:
    return [d["id"] for d in client.get(f"/applications/{application_id}/documents").json()["items"]]


def test_an_eleventh_document_is_document_limit_and_changes_nothing(
    owner: TestClient, secretariat: TestClient, application_id: int, storage: Path
) -> None:
    for _ in range(10):
        assert upload(owner, application_id, pdf_bytes()).status_code == 201
    before = document_ids(owner, application_id)

    for client in (owner, secretariat):
        body = assert_problem(upload(client, application_id, png_bytes()), 409, "document_limit")
        assert "10" in body["detail"]

    assert document_ids(owner, application_id) == before
    assert len(stored_files(storage)) == 10


def test_documents_past_twenty_mebibytes_in_all_are_document_limit(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    for _ in range(4):  # 4 x 5 MiB: exactly the 20 MiB an application may hold
        assert upload(owner, application_id, pdf_bytes(MAX)).status_code == 201

    assert_problem(upload(owner, application_id, pdf_bytes()), 409, "document_limit")

    assert len(document_ids(owner, application_id)) == 4
    assert len(stored_files(storage)) == 4


def test_concurrent_uploads_to_an_application_at_nine_documents_add_exactly_one(
    app: FastAPI, owner: TestClient, application_id: int, storage: Path
) -> None:
    insert_documents(app, application_id, 9)
    clients = [AppClient(app) for _ in range(6)]
    for client in clients:
        client.headers["Authorization"] = owner.headers["Authorization"]
    start = threading.Barrier(len(clients))

    def send(client: TestClient) -> httpx.Response:
        start.wait()
        return upload(client, application_id, fpdf_bytes())

    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(send, clients))
    finally:
        for client in clients:
            client.close()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 5, [answer.text for answer in answers]
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"document_limit"}
    assert len(document_ids(owner, application_id)) == 10
    assert len(stored_files(storage)) == 1  # the refused files are not kept


@pytest.mark.parametrize("status", ["submitted", "waitlisted", "accepted"])
def test_a_live_application_takes_documents(
    app: FastAPI, secretariat: TestClient, owner: TestClient, status: str
) -> None:
    session = published_session(secretariat)
    application_id = insert_application(
        app, session_id=session["id"], applicant_id=owner.user["id"], status=status
    )
    for client in (owner, secretariat):
        assert upload(client, application_id, pdf_bytes()).status_code == 201


@pytest.mark.parametrize("status", ["withdrawn", "rejected"])
def test_uploading_to_an_application_that_is_over_is_invalid_transition(
    app: FastAPI, secretariat: TestClient, owner: TestClient, storage: Path, status: str
) -> None:
    session = published_session(secretariat)
    application_id = insert_application(
        app, session_id=session["id"], applicant_id=owner.user["id"], status=status
    )
    for client in (owner, secretariat):
        assert_problem(upload(client, application_id, pdf_bytes()), 409, "invalid_transition")
    assert_nothing_kept(owner, application_id, storage)


def test_uploading_after_the_owner_withdrew_is_invalid_transition(
    owner: TestClient, application_id: int, storage: Path
) -> None:
    assert owner.post(f"/applications/{application_id}/withdraw").status_code == 200
    assert_problem(upload(owner, application_id, pdf_bytes()), 409, "invalid_transition")
    assert_nothing_kept(owner, application_id, storage)


def test_the_owner_deletes_a_document_of_a_submitted_application_with_its_file(
    owner: TestClient, application_id: int, document_id: int, storage: Path
) -> None:
    (file,) = stored_files(storage)
    kept = upload(owner, application_id, png_bytes()).json()["id"]

    answer = owner.delete(f"/applications/{application_id}/documents/{document_id}")

    assert (answer.status_code, answer.content) == (204, b"")
    assert document_ids(owner, application_id) == [kept]
    assert file not in stored_files(storage) and len(stored_files(storage)) == 1
    assert_problem(owner.get(f"/applications/{application_id}/documents/{document_id}"), 404, "not_found")
    assert_problem(owner.delete(f"/applications/{application_id}/documents/{document_id}"), 404, "not_found")


def test_the_owner_deleting_once_the_application_is_decided_is_invalid_transition(
    owner: TestClient, secretariat: TestClient, application_id: int, document_id: int, storage: Path
) -> None:
    decision = secretariat.post(f"/applications/{application_id}/decision", json={"decision": "accepted"})
    assert decision.status_code == 200, decision.text
    before = stored_files(storage)

    answer = owner.delete(f"/applications/{application_id}/documents/{document_id}")

    assert_problem(answer, 409, "invalid_transition")
    assert document_ids(owner, application_id) == [document_id]
    assert stored_files(storage) == before
    assert owner.get(f"/applications/{application_id}/documents/{document_id}").content == pdf_bytes()


def test_the_secretariat_deletes_a_document_whatever_the_application_status(
    owner: TestClient, secretariat: TestClient, application_id: int, document_id: int, storage: Path
) -> None:
    assert owner.post(f"/applications/{application_id}/withdraw").status_code == 200

    answer = secretariat.delete(f"/applications/{application_id}/documents/{document_id}")

    assert answer.status_code == 204, answer.text
    assert document_ids(secretariat, application_id) == []
    assert stored_files(storage) == []


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_anyone_else_deleting_a_document_gets_404_and_it_stays(
    make_user: UserFactory, owner: TestClient, application_id: int, document_id: int, storage: Path, role: str
) -> None:
    before = stored_files(storage)

    answer = make_user(role).delete(f"/applications/{application_id}/documents/{document_id}")

    assert_problem(answer, 404, "not_found")
    assert document_ids(owner, application_id) == [document_id]
    assert stored_files(storage) == before


def test_anonymous_deleting_a_document_gets_401_and_it_stays(
    anonymous: TestClient, owner: TestClient, application_id: int, document_id: int, storage: Path
) -> None:
    assert_unauthorized(anonymous.delete(f"/applications/{application_id}/documents/{document_id}"))
    assert document_ids(owner, application_id) == [document_id]
    assert len(stored_files(storage)) == 1


def test_deleting_a_document_through_another_application_is_404(
    secretariat: TestClient, owner: TestClient, application_id: int, document_id: int, storage: Path
) -> None:
    other_session = published_session(secretariat, title="Les ateliers des cultures numériques #4")
    other_id = apply(owner, other_session["id"])["id"]

    answer = owner.delete(f"/applications/{other_id}/documents/{document_id}")

    assert_problem(answer, 404, "not_found")
    assert document_ids(owner, application_id) == [document_id]
    assert len(stored_files(storage)) == 1


# A client gone mid-upload is its own abort, not a server error.


def test_a_client_gone_mid_upload_is_logged_as_499_without_an_error_and_leaves_nothing(
    live_server: LiveServer, owner: TestClient, application_id: int
) -> None:
    boundary = "g0ne"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cv.pdf"\r\n\r\n%PDF-1.4\n'
    ).encode()
    path = f"/api/v1/applications/{application_id}/documents"
    # A token of the live server's own clock: the test clock's would be from the future for it.
    login = {"username": owner.user["email"], "password": PASSWORD}
    token = httpx.post(f"{live_server.url}/api/v1/auth/token", data=login, timeout=5).json()["access_token"]
    request = "\r\n".join(
        [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            f"Authorization: Bearer {token}",
            f"Content-Type: multipart/form-data; boundary={boundary}",
            f"Content-Length: {3 * MIB}",
            "",
            "",
        ]
    ).encode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        sock.sendall(request + head + b"x" * MIB)  # a third of what it declared, then it hangs up

    line = f"POST {path} "
    deadline = time.monotonic() + 10
    log = ""
    while time.monotonic() < deadline and line not in log:
        time.sleep(0.1)  # the server logs the request once it has given up on it
        log = live_server.log.read_text(encoding="utf-8")
    (logged,) = [entry for entry in log.splitlines() if line in entry]
    assert f"{line}499" in logged and " INFO " in logged, logged
    assert "ERROR" not in log and "Traceback" not in log and "ClientDisconnect" not in log, log
    folder = application_file_service.documents_folder(live_server.log.parent)
    assert not folder.exists() or list(folder.iterdir()) == []  # the partial file is gone
    assert owner.get(f"/applications/{application_id}/documents").json() == {"items": []}

"""Documents joined to an application: received as a stream, typed by parsing their bytes with
each format's library, kept under names the server chooses within the application's limits,
listed, served back and deleted; and the sweep of files that no row names."""

import contextlib
import hashlib
import os
import re
import secrets
import unicodedata
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree import ElementTree

import anyio.to_thread
import puremagic
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlmodel import Session, col, func, select

from api.errors import (
    DocumentLimit,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from api.services.auth import Actor
from models.application import Application, ApplicationDocument, ApplicationStatus, DocumentKind

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
# Per application, in the same mebibytes as a document's limit.
MAX_DOCUMENTS_PER_APPLICATION = 10
MAX_APPLICATION_BYTES = 20 * 1024 * 1024
# The applications still being considered or attended: a withdrawn or rejected one takes no more files.
UPLOADABLE = frozenset(
    {ApplicationStatus.submitted, ApplicationStatus.waitlisted, ApplicationStatus.accepted}
)
# Older unnamed files are orphans: an upload writes, renames and commits within seconds.
ORPHAN_GRACE = timedelta(hours=1)
# A folder of its own, so that the sweep never touches files other features keep in storage.
DOCUMENTS_FOLDER = "documents"
PARTIAL_SUFFIX = ".part"

PDF = "application/pdf"
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PNG = "image/png"
JPEG = "image/jpeg"
SUFFIXES = {PDF: ".pdf", ODT: ".odt", DOCX: ".docx", PNG: ".png", JPEG: ".jpg"}
ACCEPTED_MEDIA_TYPES = tuple(SUFFIXES)

_ZIP_SIGNATURE = b"PK\x03\x04"
_ZIP = "application/zip"
_STORAGE_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|odt|docx|png|jpg)$")
_FILENAME_MAX = 200
# Form fields other than the file are a short `kind`; anything bigger is not a form we expect.
_FIELD_MAX_BYTES = 1024
_FIELDS_MAX = 20
_FILE_FIELD = "file"
_KIND_FIELD = "kind"


def documents_folder(storage_dir: str | Path) -> Path:
    """Where documents are kept under the storage directory."""
    return Path(storage_dir) / DOCUMENTS_FOLDER


def clean_filename(raw: str) -> str:
    """The uploader's name for the file, kept for Content-Disposition only: its last path
    component, without control or format characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    name = name.strip(" .")
    if len(name) > _FILENAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        name = (
            stem[: _FILENAME_MAX - len(suffix) - 1] + dot + suffix
            if dot and len(suffix) <= 10
            else name[:_FILENAME_MAX]
        )
    return name or "document"


@dataclass
class _FormPart:
    name: str = ""
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _Upload:
    """What a multipart body carried: the file (in a temporary file) and the `kind` field."""

    folder: Path
    temp_path: Path | None = None
    filename: str = ""
    size_bytes: int = 0
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    kind: str | None = None
    fields: int = 0
    pending: list[bytes] = field(default_factory=list)
    file: BinaryIO | None = None
    _part: _FormPart = field(default_factory=_FormPart)
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""

    # python-multipart's callbacks: they run inside parser.write, in the event loop, so they only
    # count and queue; the file is written from a worker thread between chunks.
    def on_part_begin(self) -> None:
        self._part = _FormPart()
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._part = _FormPart(name=name, is_file=name == _FILE_FIELD)
        if not self._part.is_file:
            self.fields += 1
            if self.fields > _FIELDS_MAX:
                raise ValidationFailed("Too many form fields.", loc=["body"])
            return
        if self.temp_path is not None:
            raise ValidationFailed("Send one file per request.", loc=["body", _FILE_FIELD])
        self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
        self.temp_path = self.folder / f"{secrets.token_hex(16)}{PARTIAL_SUFFIX}"
        # O_EXCL: a random name that somehow exists is never written through.
        descriptor = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self.file = os.fdopen(descriptor, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._part.is_file:
            self.size_bytes += len(chunk)
            if self.size_bytes > MAX_DOCUMENT_BYTES:
                raise PayloadTooLarge(
                    f"A document may not exceed {MAX_DOCUMENT_BYTES} bytes.",
                    headers={"Connection": "close"},
                )
            self.pending.append(chunk)
            return
        if len(self._part.data) + len(chunk) > _FIELD_MAX_BYTES:
            raise ValidationFailed("A form field is too long.", loc=["body", self._part.name[:40]])
        self._part.data.extend(chunk)

    def on_part_end(self) -> None:
        if not self._part.is_file and self._part.name == _KIND_FIELD:
            self.kind = self._part.data.decode("utf-8", "replace")

    def write_pending(self) -> None:
        """Writes and hashes what the parser has queued (in a worker thread)."""
        assert self.file is not None
        for chunk in self.pending:
            self.file.write(chunk)
            self.digest.update(chunk)
        self.pending.clear()

    def finish(self) -> None:
        """Flushes the file to disk, so that a rename after it never exposes a partial one."""
        if self.file is not None:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.file = None

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)


def _multipart_boundary(content_type: str) -> bytes:
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise UnsupportedMediaType("Send the document as multipart/form-data with a `file` part.")
    boundary = options.get(b"boundary", b"")
    if not 1 <= len(boundary) <= 200:
        raise ValidationFailed(
            "The multipart boundary is missing or too long.", loc=["header", "content-type"]
        )
    return boundary


async def _receive(body: AsyncIterator[bytes], content_type: str, *, folder: Path) -> _Upload:
    """Streams the multipart body into a temporary file, refusing it as soon as the file passes
    the limit: the rest of the body is never read."""
    boundary = _multipart_boundary(content_type)
    await anyio.to_thread.run_sync(partial(folder.mkdir, parents=True, exist_ok=True))
    upload = _Upload(folder=folder)
    callbacks = {
        "on_part_begin": upload.on_part_begin,
        "on_header_field": upload.on_header_field,
        "on_header_value": upload.on_header_value,
        "on_header_end": upload.on_header_end,
        "on_headers_finished": upload.on_headers_finished,
        "on_part_data": upload.on_part_data,
        "on_part_end": upload.on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
            if upload.pending:
                await anyio.to_thread.run_sync(upload.write_pending)
        parser.finalize()
        if upload.pending:
            await anyio.to_thread.run_sync(upload.write_pending)
        await anyio.to_thread.run_sync(upload.finish)
    except FormParserError:
        upload.discard()
        raise ValidationFailed("The multipart body is malformed.", loc=["body"]) from None
    except BaseException:
        upload.discard()
        raise
    if upload.temp_path is None:
        raise ValidationFailed("A `file` part is required.", loc=["body", _FILE_FIELD])
    return upload


# A zip bomb or a huge XML part is refused from the sizes the archive's directory declares, and
# the main part is read at most this far: a CV's document.xml is a few hundred KiB.
MAX_MAIN_PART_BYTES = 32 * 1024 * 1024
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000
_XML_CHUNK_BYTES = 64 * 1024
# A 600 dpi scan of an A4 page is 35 million pixels; decoding one holds about 100 MB.
MAX_IMAGE_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow's own decompression-bomb guard, at the same bound
# Reading a PDF's objects stops here: a 5 MiB file holds far fewer.
_MAX_PDF_OBJECTS = 200_000

_ODT_CONTENT = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}document-content"
_DOCX_MAIN_PART = "/word/document.xml"
_DOCX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_CONTENT_TYPES_NAMESPACE = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# Transitional and Strict Office Open XML name the document element in their own namespaces.
_DOCX_DOCUMENTS = frozenset(
    {
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}document",
        "{http://purl.oclc.org/ooxml/wordprocessingml/main}document",
    }
)
# Names in a PDF that run code when it is opened or read: JavaScript, launch actions, XFA forms.
_PDF_ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/Launch", "/XFA"})
_PDF_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch"})

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
)

# What pypdf raises on a damaged file, besides its own errors: it reads objects the file describes.
_PDF_ERRORS = (
    PyPdfError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
    OSError,
    NotImplementedError,
    zlib.error,
)


class _NotThisType(Exception):
    """The file does not parse as the type its first bytes claim."""


class _RootElement:
    """An XML parser target that keeps the root element's name and, for a package's content types,
    what they declare (nothing else), so that a large part parses in constant memory."""

    def __init__(self) -> None:
        self.tag: str | None = None
        self.overrides: dict[str, str] = {}  # part name -> content type
        self.defaults: dict[str, str] = {}  # extension, lower case -> content type

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if self.tag is None:
            self.tag = tag
        elif tag == f"{_CONTENT_TYPES_NAMESPACE}Override":
            self.overrides[attributes.get("PartName", "")] = attributes.get("ContentType", "")
        elif tag == f"{_CONTENT_TYPES_NAMESPACE}Default":
            self.defaults[attributes.get("Extension", "").lower()] = attributes.get("ContentType", "")

    def content_type(self, part_name: str) -> str | None:
        """The part's type as OPC declares it: its override, else the default of its extension."""
        if part_name in self.overrides:
            return self.overrides[part_name]
        return self.defaults.get(part_name.rsplit(".", 1)[-1].lower())

    def close(self) -> None:
        return None


def _parse_member(archive: zipfile.ZipFile, name: str) -> _RootElement:
    """Parses one member of the archive with defusedxml (no DTD, no entities), reading at most
    MAX_MAIN_PART_BYTES of it; the root element's name, and the content types it overrides."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _NotThisType(f"no {name}") from None
    if info.file_size > MAX_MAIN_PART_BYTES:
        raise _NotThisType(f"{name} is too large")
    root = _RootElement()
    parser = DefusedXMLParser(target=root, forbid_dtd=True)
    read = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_XML_CHUNK_BYTES):
                read += len(chunk)
                if read > MAX_MAIN_PART_BYTES:
                    raise _NotThisType(f"{name} is larger than it declares")
                parser.feed(chunk)
        parser.close()
    except (ElementTree.ParseError, DefusedXmlException):
        raise _NotThisType(f"{name} is not well-formed XML") from None
    return root


def _check_archive(archive: zipfile.ZipFile) -> None:
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS or sum(info.file_size for info in members) > MAX_ARCHIVE_BYTES:
        raise _NotThisType("the archive declares more than a document holds")


def _odt_or_docx(path: Path) -> str:
    """ODT or DOCX, decided by their packages' rules and a parse of the main XML part."""
    with zipfile.ZipFile(path) as archive:
        _check_archive(archive)
        names = set(archive.namelist())
        if "mimetype" in names:
            # OpenDocument names its own type in this member; a long one is not ours.
            with archive.open("mimetype") as member:
                if member.read(len(ODT) + 1) != ODT.encode("ascii"):
                    raise _NotThisType("another OpenDocument type")
            if _parse_member(archive, "content.xml").tag != _ODT_CONTENT:
                raise _NotThisType("content.xml is not an OpenDocument text")
            return ODT
        content_types = _parse_member(archive, "[Content_Types].xml")
        if (
            content_types.tag != f"{_CONTENT_TYPES_NAMESPACE}Types"
            or content_types.content_type(_DOCX_MAIN_PART) != _DOCX_MAIN_TYPE
        ):
            # A spreadsheet, a macro-enabled document or a plain archive.
            raise _NotThisType("[Content_Types].xml names no Word document")
        if _parse_member(archive, _DOCX_MAIN_PART.lstrip("/")).tag not in _DOCX_DOCUMENTS:
            raise _NotThisType("word/document.xml is not a Word document")
        return DOCX


def _pdf_is_active(reader: PdfReader) -> bool:
    """Whether any object reachable from the trailer names JavaScript, a launch action or an XFA
    form: wherever it hides (/OpenAction, /AA, annotations, the names tree, an action's /Next)."""
    seen: set[tuple[int, int]] = set()
    pending: list[Any] = [reader.trailer]
    visited = 0
    while pending:
        item = pending.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                continue
            seen.add((item.idnum, item.generation))
            item = item.get_object()
        visited += 1
        if visited > _MAX_PDF_OBJECTS:
            raise _NotThisType("too many objects to inspect")
        if isinstance(item, DictionaryObject):
            if not _PDF_ACTIVE_KEYS.isdisjoint(item.keys()) or item.get("/S") in _PDF_ACTIVE_ACTIONS:
                return True
            # Streams are not decoded: only their dictionaries can name an action.
            pending.extend(value for key, value in item.items() if key != "/Parent")
        elif isinstance(item, ArrayObject):
            pending.extend(item)
    return False


def _pdf(path: Path) -> str:
    """A PDF whose structure pypdf reads, with at least one page and nothing that runs."""
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise _NotThisType("encrypted with a password")
        if len(reader.pages) == 0:
            raise _NotThisType("no page")
        if _pdf_is_active(reader):
            raise _NotThisType("it carries JavaScript or a launch action")
    except _PDF_ERRORS as error:
        raise _NotThisType(f"pypdf cannot read it: {error.__class__.__name__}") from None
    return PDF


def _image(path: Path, pillow_format: str, media_type: str) -> str:
    """An image Pillow decodes whole, within MAX_IMAGE_PIXELS."""
    try:
        with Image.open(path, formats=[pillow_format]) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _NotThisType("too many pixels")
            image.verify()
        # verify() leaves the image unusable: decoding every pixel needs a fresh open.
        with Image.open(path, formats=[pillow_format]) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, zlib.error):
        raise _NotThisType(f"Pillow cannot decode it as {pillow_format}") from None
    return media_type


def _claimed_type(path: Path) -> str | None:
    """What the first bytes claim (puremagic's signatures): PDF, PNG, JPEG, or ZIP for the office
    formats; None for anything else."""
    with path.open("rb") as stream:
        try:
            matches = puremagic.magic_stream(stream)
        except (puremagic.PureError, ValueError):
            matches = []
    if not matches:
        return None
    best = max(match.confidence for match in matches)
    leading = [match for match in matches if match.confidence == best]
    if any(match.offset == 0 and match.byte_match.startswith(_ZIP_SIGNATURE) for match in leading):
        return _ZIP
    accepted = {match.mime_type for match in leading} & {PDF, PNG, JPEG}
    return accepted.pop() if len(accepted) == 1 else None


def sniff_media_type(path: Path) -> str:
    """The document's type, from its bytes alone: claimed by its signature, then confirmed by
    parsing it with its format's library (pypdf, Pillow, defusedxml on the main XML part); 415
    when it is not a PDF, ODT, DOCX, PNG or JPEG that parses, or is a PDF that runs code.

    Slow and bounded: run it in a worker thread, before any database lock."""
    claimed = _claimed_type(path)
    try:
        if claimed == PDF:
            return _pdf(path)
        if claimed == PNG:
            return _image(path, "PNG", PNG)
        if claimed == JPEG:
            return _image(path, "JPEG", JPEG)
        if claimed == _ZIP:
            return _odt_or_docx(path)
    except _NotThisType:
        pass
    except _ZIP_ERRORS:
        pass
    raise UnsupportedMediaType(
        "Documents must be PDF, ODT, DOCX, PNG or JPEG files that open as such, and a PDF may carry no "
        "JavaScript or launch action."
    )


@dataclass(frozen=True)
class ReceivedDocument:
    """A file received, typed from its bytes and kept under its final name, not yet recorded."""

    kind: DocumentKind
    media_type: str
    filename: str
    path: Path
    size_bytes: int
    sha256: str

    def discard(self) -> None:
        """Remove the file: its upload was refused or its record failed."""
        self.path.unlink(missing_ok=True)


def _keep(upload: _Upload, kind: DocumentKind) -> ReceivedDocument:
    """Types the received file and gives it its final random name (an atomic rename)."""
    assert upload.temp_path is not None
    media_type = sniff_media_type(upload.temp_path)
    final = upload.folder / f"{secrets.token_hex(16)}{SUFFIXES[media_type]}"
    os.replace(upload.temp_path, final)
    return ReceivedDocument(
        kind=kind,
        media_type=media_type,
        filename=clean_filename(upload.filename),
        path=final,
        size_bytes=upload.size_bytes,
        sha256=upload.digest.hexdigest(),
    )


def _document_kind(value: str | None) -> DocumentKind:
    if value is None or value == "":
        return DocumentKind.other
    try:
        return DocumentKind(value)
    except ValueError:
        raise ValidationFailed("`kind` must be cv, letter or other.", loc=["body", _KIND_FIELD]) from None


def _require_live(application: Application) -> None:
    if application.status not in UPLOADABLE:
        raise InvalidTransition(f"Documents cannot be joined to an application that is {application.status}.")


def add_document(
    db: Session, application_id: int, received: ReceivedDocument, *, now: datetime
) -> ApplicationDocument:
    """Records a received file as a document of the application, within the application's limits.

    The application's row is locked first: concurrent uploads to one application count its
    documents one after the other, so that none passes the limits."""
    # Read again in this transaction: the check that let the upload in was made before it arrived.
    # populate_existing: the status as the lock sees it, not as this session cached it.
    application = db.get(Application, application_id, with_for_update=True, populate_existing=True)
    if application is None:
        raise NotFound("No application with this id.")
    _require_live(application)
    count, total = db.exec(
        select(func.count(), func.coalesce(func.sum(ApplicationDocument.size_bytes), 0)).where(
            ApplicationDocument.application_id == application_id
        )
    ).one()
    if count >= MAX_DOCUMENTS_PER_APPLICATION:
        raise DocumentLimit(f"An application holds at most {MAX_DOCUMENTS_PER_APPLICATION} documents.")
    if total + received.size_bytes > MAX_APPLICATION_BYTES:
        raise DocumentLimit(
            f"The documents of an application may not exceed {MAX_APPLICATION_BYTES} bytes in all; "
            f"{MAX_APPLICATION_BYTES - total} are left."
        )
    document = ApplicationDocument(
        application_id=application_id,
        kind=received.kind,
        media_type=received.media_type,
        filename=received.filename,
        storage_name=received.path.name,
        size_bytes=received.size_bytes,
        sha256=received.sha256,
        created_at=now,
    )
    db.add(document)
    db.flush()
    return document


async def receive_document(
    application: Application, body: AsyncIterator[bytes], *, content_type: str, storage_dir: str | Path
) -> ReceivedDocument:
    """Streams an upload to disk, types it from its bytes and keeps it under its final name, with
    no transaction open: no lock is held while it arrives or while its format is checked.

    The caller records it with `add_document` in a transaction of its own, or discards it. A
    refused upload leaves no file; a crash before the record's commit leaves a file that
    `remove_orphan_files` deletes once it is older than ORPHAN_GRACE.
    """
    _require_live(application)  # before a byte of the body is read; checked again under the lock
    upload = await _receive(body, content_type, folder=documents_folder(storage_dir))
    try:
        kind = _document_kind(upload.kind)
        return await anyio.to_thread.run_sync(_keep, upload, kind)
    except BaseException:
        upload.discard()
        raise


def list_documents(db: Session, application: Application) -> list[ApplicationDocument]:
    """The application's documents, oldest first."""
    return list(
        db.exec(
            select(ApplicationDocument)
            .where(ApplicationDocument.application_id == application.id)
            .order_by(col(ApplicationDocument.id))
        ).all()
    )


def find_document(db: Session, application: Application, document_id: int) -> ApplicationDocument:
    """One of the application's documents, or 404."""
    document = db.get(ApplicationDocument, document_id)
    if document is None or document.application_id != application.id:
        raise NotFound("No document with this id for this application.")
    return document


def delete_document(
    db: Session, actor: Actor, application: Application, document_id: int
) -> ApplicationDocument:
    """Deletes a document's row: the owner while the application is submitted, the secretariat at
    any time. The caller removes its file with `remove_document_file` once the deletion is committed,
    so that a rollback never leaves a row without its file; a crash in between leaves an orphan
    that `remove_orphan_files` sweeps."""
    document = find_document(db, application, document_id)
    if not actor.is_secretariat:
        # Locked, so that a decision committed meanwhile is seen.
        db.refresh(application, with_for_update=True)
        if application.status != ApplicationStatus.submitted:
            raise InvalidTransition(
                f"The documents of an application that is {application.status} can no longer be removed."
            )
    db.delete(document)
    db.flush()
    return document


def remove_document_file(document: ApplicationDocument, *, storage_dir: str | Path) -> None:
    """Deletes the file of a document whose row is gone."""
    if _STORAGE_NAME.match(document.storage_name):
        (documents_folder(storage_dir) / document.storage_name).unlink(missing_ok=True)


def document_file(document: ApplicationDocument, *, storage_dir: str | Path) -> Path:
    """The file holding the document's bytes; 404 when it has gone from the disk."""
    path = documents_folder(storage_dir) / document.storage_name
    # The name is the server's own, but a path is only ever built from one of that shape.
    if not _STORAGE_NAME.match(document.storage_name) or not path.is_file():
        raise NotFound("The file of this document is missing.")
    return path


def remove_orphan_files(
    db: Session, *, storage_dir: str | Path, now: datetime, grace: timedelta = ORPHAN_GRACE
) -> int:
    """Deletes document files older than `grace` that no row names, and stray partial uploads
    (a crash between writing a file and committing its row). Returns how many went."""
    folder = documents_folder(storage_dir)
    if not folder.is_dir():
        return 0
    cutoff = (now - grace).timestamp()
    old: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                old.append(Path(entry.path))
    partial_uploads = [path for path in old if path.name.endswith(PARTIAL_SUFFIX)]
    candidates = [path for path in old if not path.name.endswith(PARTIAL_SUFFIX)]
    named: set[str] = set()
    for start in range(0, len(candidates), 500):
        batch = [path.name for path in candidates[start : start + 500]]
        named.update(
            db.exec(
                select(ApplicationDocument.storage_name).where(
                    col(ApplicationDocument.storage_name).in_(batch)
                )
            ).all()
        )
    removed = 0
    for path in [*partial_uploads, *(path for path in candidates if path.name not in named)]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed

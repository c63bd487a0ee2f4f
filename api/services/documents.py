"""Documents joined to an application: received as a stream, typed from their bytes, kept under
names the server chooses, listed and served back; and the sweep of files that no row names."""

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
from typing import BinaryIO

import anyio.to_thread
import puremagic
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlmodel import Session, col, select

from api.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from models.application import Application, ApplicationDocument, DocumentKind

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
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


def _office_document_type(path: Path) -> str | None:
    """ODT or DOCX, read from the archive's members; None for any other ZIP (a spreadsheet,
    a presentation, a plain archive) or a damaged one."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # OpenDocument names its own type in this member; a long one is not ours.
                with archive.open("mimetype") as member:
                    declared = member.read(len(ODT) + 1)
                return ODT if declared == ODT.encode("ascii") else None
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return DOCX
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        zlib.error,
    ):
        return None
    return None


def sniff_media_type(path: Path) -> str:
    """The document's type from its bytes alone (puremagic's signatures; ZIP-based formats by
    their members), or 415 when it is not PDF, ODT, DOCX, PNG or JPEG."""
    with path.open("rb") as stream:
        try:
            matches = puremagic.magic_stream(stream)
        except (puremagic.PureError, ValueError):
            matches = []
    if matches:
        best = max(match.confidence for match in matches)
        leading = [match for match in matches if match.confidence == best]
        if any(match.offset == 0 and match.byte_match.startswith(_ZIP_SIGNATURE) for match in leading):
            office = _office_document_type(path)
            if office is not None:
                return office
        else:
            accepted = {match.mime_type for match in leading} & {PDF, PNG, JPEG}
            if len(accepted) == 1:
                return accepted.pop()
    raise UnsupportedMediaType("Documents must be PDF, ODT, DOCX, PNG or JPEG files.")


@dataclass(frozen=True)
class _StoredFile:
    path: Path
    media_type: str


def _keep(upload: _Upload) -> _StoredFile:
    """Types the received file and gives it its final random name (an atomic rename)."""
    assert upload.temp_path is not None
    media_type = sniff_media_type(upload.temp_path)
    final = upload.folder / f"{secrets.token_hex(16)}{SUFFIXES[media_type]}"
    os.replace(upload.temp_path, final)
    return _StoredFile(path=final, media_type=media_type)


def _document_kind(value: str | None) -> DocumentKind:
    if value is None or value == "":
        return DocumentKind.other
    try:
        return DocumentKind(value)
    except ValueError:
        raise ValidationFailed("`kind` must be cv, letter or other.", loc=["body", _KIND_FIELD]) from None


def add_document(
    db: Session,
    application_id: int,
    *,
    kind: DocumentKind,
    media_type: str,
    filename: str,
    storage_name: str,
    size_bytes: int,
    sha256: str,
    now: datetime,
) -> ApplicationDocument:
    """Records a stored file as a document of the application."""
    # Read again in this transaction: the check that let the upload in was committed before it.
    if db.exec(select(Application.id).where(Application.id == application_id)).first() is None:
        raise NotFound("No application with this id.")
    document = ApplicationDocument(
        application_id=application_id,
        kind=kind,
        media_type=media_type,
        filename=filename,
        storage_name=storage_name,
        size_bytes=size_bytes,
        sha256=sha256,
        created_at=now,
    )
    db.add(document)
    db.flush()
    return document


async def receive_document(
    db: Session,
    application: Application,
    body: AsyncIterator[bytes],
    *,
    content_type: str,
    storage_dir: str | Path,
    now: datetime,
) -> ApplicationDocument:
    """Streams an upload to disk, types it from its bytes, renames it, then records it.

    Call it with no transaction open: the database is touched only once the file is on disk.
    A refused upload leaves no file and no row; a crash before the commit leaves a file that
    `remove_orphan_files` deletes once it is older than ORPHAN_GRACE.
    """
    assert application.id is not None
    upload = await _receive(body, content_type, folder=documents_folder(storage_dir))
    kept: _StoredFile | None = None
    try:
        kind = _document_kind(upload.kind)
        kept = await anyio.to_thread.run_sync(_keep, upload)
        record = partial(
            add_document,
            db,
            application.id,
            kind=kind,
            media_type=kept.media_type,
            filename=clean_filename(upload.filename),
            storage_name=kept.path.name,
            size_bytes=upload.size_bytes,
            sha256=upload.digest.hexdigest(),
            now=now,
        )
        return await anyio.to_thread.run_sync(record)
    except BaseException:
        upload.discard()
        if kept is not None:
            kept.path.unlink(missing_ok=True)
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

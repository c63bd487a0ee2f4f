"""Documents joined to an application (CV, letter, ...): upload, list, download, delete."""

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from fastapi.responses import FileResponse

from api.deps import (
    ClockDep,
    CurrentUser,
    DbSession,
    HotWrites,
    OwnedApplication,
    ResourceId,
    SettingsDep,
)
from api.edge.body_limits import BoundedBodyRoute
from api.edge.problem import problem_responses
from api.services import application_files as application_file_service
from api.services import applications as application_service
from models.application import ApplicationDocumentList, ApplicationDocumentPublic, DocumentKind

router = APIRouter(
    prefix="/applications/{application_id}/documents", tags=["applications"], route_class=BoundedBodyRoute
)

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "maxLength": application_file_service.MAX_DOCUMENT_BYTES,
                            "description": "PDF, ODT, DOCX, PNG or JPEG, at most 5 MiB; the type is "
                            "read from the bytes, not from the name or the part's Content-Type.",
                        },
                        "kind": {
                            "type": "string",
                            "enum": [kind.value for kind in DocumentKind],
                            "default": DocumentKind.other.value,
                        },
                    },
                },
                "encoding": {
                    "file": {"contentType": ", ".join(application_file_service.ACCEPTED_MEDIA_TYPES)}
                },
            }
        },
    }
}

_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The document's bytes, with the type read from them at upload",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in application_file_service.ACCEPTED_MEDIA_TYPES
        },
    }
}


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name (RFC 6266): no quote, control
    character or path separator of the stored name reaches the header."""
    visible = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C")
    visible = re.sub(r'["/\\]', "_", visible).strip() or "document"
    fallback = unicodedata.normalize("NFKD", visible).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9._()+ -]", "_", fallback).strip(" .") or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(visible, safe='')}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationDocumentPublic,
    summary="Join a document to an application (the owner or the secretariat)",
    description="While the application is submitted, waitlisted or accepted (409 `invalid_transition` "
    "otherwise); at most 10 documents and 20 MiB per application (409 `document_limit`).",
    responses=problem_responses(401, 404, 409, 413, 415, 422),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_application_document(
    application_id: ResourceId,
    request: Request,
    response: Response,
    actor: CurrentUser,
    writes: HotWrites,
    settings: SettingsDep,
    clock: ClockDep,
) -> ApplicationDocumentPublic:
    # Two transactions around the file, so that none is open while it arrives and is parsed.
    application = await writes.run(
        lambda db: application_service.find_owned_application(db, application_id, actor=actor)
    )
    # The body is read here, as a stream, so that the 5 MiB limit holds while it arrives.
    received = await application_file_service.receive_document(
        application,
        request.stream(),
        content_type=request.headers.get("content-type", ""),
        storage_dir=settings.storage_dir,
    )
    try:
        document = await writes.run(
            lambda db: application_file_service.add_document(db, application_id, received, now=clock.now())
        )
    except BaseException:
        received.discard()  # refused or failed: no file without its row
        raise
    response.headers["Location"] = f"/api/v1/applications/{application_id}/documents/{document.id}"
    return ApplicationDocumentPublic.model_validate(document)


@router.get(
    "",
    response_model=ApplicationDocumentList,
    summary="List an application's documents (the owner or the secretariat)",
    responses=problem_responses(401, 404, 422),
)
def list_application_documents(application: OwnedApplication, db: DbSession) -> ApplicationDocumentList:
    documents = application_file_service.list_documents(db, application)
    return ApplicationDocumentList(items=[ApplicationDocumentPublic.model_validate(d) for d in documents])


@router.get(
    "/{document_id}",
    response_class=FileResponse,
    summary="Download a document (the owner or the secretariat)",
    responses={**_DOWNLOAD, **problem_responses(401, 404, 422)},
)
def download_application_document(
    document_id: ResourceId, application: OwnedApplication, db: DbSession, settings: SettingsDep
) -> FileResponse:
    document = application_file_service.find_document(db, application, document_id)
    path = application_file_service.document_file(document, storage_dir=settings.storage_dir)
    return FileResponse(
        path,
        media_type=document.media_type,
        headers={
            "Content-Disposition": content_disposition(document.filename),
            "Cache-Control": "private, no-store",
        },
    )


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a document (the owner while the application is submitted, or the secretariat)",
    responses=problem_responses(401, 404, 409, 422),
)
def delete_application_document(
    document_id: ResourceId,
    application: OwnedApplication,
    actor: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Response:
    document = application_file_service.delete_document(db, actor, application, document_id)
    # Run after the answer, so after the commit: a deletion rolled back keeps its file.
    background.add_task(
        application_file_service.remove_document_file, document, storage_dir=settings.storage_dir
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Documents answered as files: the PDF response and how the OpenAPI spec declares it."""

from typing import Any

from fastapi import Response

PDF_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
}


def pdf_download(document: bytes, filename: str) -> Response:
    """A PDF shown in the browser under `filename`, never kept by a shared cache (it names a person)."""
    return Response(
        content=document,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )

"""Training certificates: issued by the secretariat, printed for the trainee, verified by anyone."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.deps import CertifiableApplication, ClockDep, CurrentUser, DbSession, SettingsDep, VisibleCertificate
from api.documents.certificate import render_certificate
from api.documents.layout import Organisation
from api.edge.body_limits import BoundedBodyRoute
from api.edge.downloads import PDF_CONTENT, pdf_download
from api.edge.problem import problem_responses
from api.services import certificates as certificate_service
from models.certificate import CertificatePublic, CertificateVerification

public_router = APIRouter(tags=["certificates"], route_class=BoundedBodyRoute)
router = APIRouter(tags=["certificates"], route_class=BoundedBodyRoute)

CertificateCode = Annotated[
    str,
    Path(
        min_length=20,
        max_length=64,
        pattern=certificate_service.CODE_PATTERN,
        description="The code printed on the certificate",
        examples=["q3V9cJzA0mJ8Yk1wW2xR5tP7sLbN4eHdXr2Lw9Zc0aE"],
    ),
]


@router.post(
    "/applications/{application_id}/certificate",
    status_code=status.HTTP_201_CREATED,
    response_model=CertificatePublic,
    summary="Issue the training certificate of an application",
    description="The secretariat, for an accepted application of a completed session (otherwise 409 "
    "`not_eligible`): 201 with the new certificate and a `Location`. A certificate is issued once: asking "
    "again answers 200 with the same one. The hours attended come from the attendance record and are "
    "frozen at issue, with everything the certificate prints (the trainee's name, the session, the scores, "
    "the organisation). The applicant and the session's trainers get 403; anyone else 404.",
    responses={
        200: {"description": "Already issued: the same certificate"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def issue_certificate(
    application: CertifiableApplication,
    actor: CurrentUser,
    response: Response,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
) -> CertificatePublic:
    certificate, created = certificate_service.issue_certificate(
        db, application, actor=actor, organisation=Organisation.from_settings(settings), now=clock.now()
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/certificates/{certificate.id}"
    return certificate_service.to_public(certificate)


@router.get(
    "/certificates/{certificate_id}/pdf",
    summary="Download a certificate as PDF",
    description="The attestation de fin de formation as issued, with a QR code of its public verification "
    "address. "
    "The trainee and the secretariat; anyone else gets 404.",
    response_class=Response,
    responses={
        **PDF_CONTENT,
        **problem_responses(401, 404, 422),
    },
)
def get_certificate_pdf(certificate: VisibleCertificate, settings: SettingsDep) -> Response:
    content = certificate_service.issued_certificate(certificate, base_url=settings.public_url)
    return pdf_download(render_certificate(content), f"attestation-{certificate.id}.pdf")


@public_router.get(
    "/certificates/verify/{code}",
    response_model=CertificateVerification,
    summary="Verify a certificate by its code",
    description="Public: who, which training, its dates, the hours attended and the issue date, nothing "
    "else. An unknown code is 404.",
    responses=problem_responses(404, 422),
)
def verify_certificate(code: CertificateCode, db: DbSession) -> CertificateVerification:
    return certificate_service.verify(db, code)

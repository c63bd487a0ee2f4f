"""The catalogue version: one row that every change of the public listing bumps.

Caches and ETags key on it, so they stay right across processes.
"""

from sqlalchemy import update
from sqlmodel import Session, select

from models.training_session import CatalogueVersion


def catalogue_version(db: Session) -> int:
    version = db.exec(select(CatalogueVersion.version).where(CatalogueVersion.id == 1)).first()
    return version or 0


def bump_catalogue_version(db: Session) -> None:
    """Called in the transaction of every write the listing shows."""
    result = db.execute(
        update(CatalogueVersion)
        .where(CatalogueVersion.id == 1)  # type: ignore[arg-type]
        .values(version=CatalogueVersion.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        db.add(CatalogueVersion(id=1, version=1))
        db.flush()

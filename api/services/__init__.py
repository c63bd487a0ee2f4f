"""The rules of each domain: plain functions taking `db`, raising domain errors, never committing."""

"""The reference the service is compared with: a bare FastAPI app answering a constant.

Served by plain uvicorn (httptools, one worker, no access log) beside the service, it measures
what this machine, this Python and this server do before any application code runs.
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/status")
def status() -> dict[str, str]:
    """A `def` endpoint, like the service's: it runs in the same thread pool."""
    return {"status": "ok"}

"""Rules that must hold when requests race, enforced by the database on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.testclient import TestClient

RACERS = 8


def _race(app: FastAPI, call) -> list:
    clients = [
        TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False)
        for _ in range(RACERS)
    ]
    try:
        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(call, clients))
    finally:
        for client in clients:
            client.close()


def test_a_refresh_token_rotates_once_under_concurrent_use(app: FastAPI, applicant: TestClient) -> None:
    refresh_token = applicant.tokens["refresh_token"]
    answers = _race(app, lambda client: client.post("/auth/refresh", json={"refresh_token": refresh_token}))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [401] * (RACERS - 1)
    # The losers presented a used token: the whole family, the winner's new token included, is revoked.
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    assert applicant.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]}).status_code == 401


def test_one_email_registers_once_under_concurrent_use(app: FastAPI, anonymous: TestClient) -> None:
    body = {
        "email": "meme.adresse@example.org",
        "password": "une phrase de passe",
        "full_name": "Même Personne",
    }
    answers = _race(app, lambda client: client.post("/auth/register", json=body))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (RACERS - 1)
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"email_taken"}

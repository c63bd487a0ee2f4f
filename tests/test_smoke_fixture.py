def test_fixtures(anonymous, secretariat, trainer, applicant):
    assert secretariat.user["role"] == "secretariat"
    assert anonymous.get("/sessions").json()["total"] == 0

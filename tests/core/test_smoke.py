from apps.tenancy.roles import Role


def test_member_reads_own_organization_through_api(org_a, make_member, api_for):
    member = make_member(org_a, Role.ANNOTATOR)

    response = api_for(member).get("/api/v1/organization/")

    assert response.status_code == 200
    assert response.json()["slug"] == "acme"

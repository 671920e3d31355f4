"""Error pages say what went wrong in words; the 500 page needs neither a request nor the database."""

from django.template.loader import render_to_string
from django.test import Client


def test_the_500_page_renders_without_a_request_or_database():
    html = render_to_string("errors/500.html")

    assert "Something went wrong" in html and "try again shortly" in html


def test_an_unknown_page_is_a_404_in_words(db):
    response = Client().get("/no/such/page/")

    assert response.status_code == 404
    assert b"There is nothing here, or you do not have access to it." in response.content
    assert b"Skip to main content" in response.content

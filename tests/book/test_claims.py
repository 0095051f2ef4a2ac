"""resmix.book.claims.Checks: strict on the book's profile, collected elsewhere."""
import pytest

from resmix.book.claims import Checks, Claim


def test_checks_fail_on_the_books_profile_and_are_collected_elsewhere():
    claim = [Claim("C7", "collapse", "epoch 21", "measured", "refuted")]
    strict = Checks("quick")
    assert strict.expect(True, "fine")
    with pytest.raises(AssertionError, match="the text says"):
        strict.expect(False, "the text says so")
    with pytest.raises(AssertionError, match="C7: partly -> refuted"):
        strict.require(claim, {"C7": "partly"})
    loose = Checks("full")
    assert not loose.expect(False, "the text says so")
    loose.require(claim, {"C7": "partly"})
    html = loose.summary().data
    assert "the text says so" in html and "<b>partly</b>; measured here <b>refuted</b>" in html
    assert "every claim" in Checks("full").summary().data and Checks("quick").summary().data == ""

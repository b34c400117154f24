"""Upbit error responses map onto the arbv2 taxonomy and keep the venue's name and message."""
import orjson
import pytest

from arbv2.adapters.upbit.errors import map_error
from arbv2.adapters.upbit.http import parse_remaining_req
from arbv2.core import errors as E


def body(name, message="msg"):
    return orjson.dumps({"error": {"name": name, "message": message}})


@pytest.mark.parametrize("status,name,cls", [
    (400, "insufficient_funds_bid", E.InsufficientFunds), (400, "insufficient_funds_ask", E.InsufficientFunds),
    (400, "under_min_total_bid", E.InvalidOrder), (400, "under_min_total_ask", E.InvalidOrder),
    (400, "invalid_price_bid", E.InvalidOrder), (400, "invalid_price_ask", E.InvalidOrder),
    (400, "create_bid_error", E.InvalidOrder), (400, "create_ask_error", E.InvalidOrder),
    (400, "validation_error", E.InvalidOrder),
    (401, "invalid_query_payload", E.AuthError), (401, "jwt_verification", E.AuthError),
    (401, "expired_access_key", E.AuthError), (401, "no_authorization_i_p", E.AuthError),
    (401, "out_of_scope", E.AuthError), (401, "invalid_access_key", E.AuthError),
    (401, "nonce_used", E.TimestampSkew), (403, "thirdparty_agreement_required", E.AuthError),
    (404, "order_not_found", E.UnknownOrder), (500, "server_error", E.VenueUnavailable),
    (503, None, E.VenueUnavailable), (400, "something_new", E.OrderRejected),
])
def test_error_names_map_to_taxonomy(status, name, cls):
    raw = body(name, "주문가능한 금액이 부족합니다.") if name else b"Service Unavailable"
    err = map_error(status, raw)
    assert type(err) is cls
    assert err.venue == "upbit" and err.http_status == status
    if name:
        assert err.code == name and err.venue_message == "주문가능한 금액이 부족합니다."


def test_429_plain_text_and_json_with_retry_after():
    err = map_error(429, b"Too many API requests.", {"Retry-After": "2.5"})
    assert isinstance(err, E.RateLimited) and err.retry_after_s == 2.5 and err.venue_message == "Too many API requests."
    err = map_error(429, body("too_many_requests"))
    assert isinstance(err, E.RateLimited) and err.retry_after_s == 1.0
    err = map_error(418, b"blocked")
    assert isinstance(err, E.RateLimited) and err.retry_after_s == 60.0


def test_remaining_req_header():
    assert parse_remaining_req("group=default; min=1800; sec=29") == ("default", 29)
    assert parse_remaining_req("group=order-cancel-all; min=59; sec=0") == ("order-cancel-all", 0)
    assert parse_remaining_req(None) is None

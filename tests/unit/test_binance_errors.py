"""Binance error codes map onto the arbv2 taxonomy and keep code and msg."""
import orjson
import pytest

from arbv2.adapters.binance.errors import map_error
from arbv2.core import errors as E


@pytest.mark.parametrize("status,code,cls", [
    (400, -1021, E.TimestampSkew), (401, -1022, E.AuthError), (401, -2015, E.AuthError),
    (400, -1111, E.InvalidOrder), (400, -1121, E.InvalidOrder), (400, -1102, E.InvalidOrder),
    (400, -2010, E.OrderRejected), (400, -2011, E.UnknownOrder), (400, -2013, E.UnknownOrder),
    (400, -2018, E.InsufficientFunds), (400, -2019, E.InsufficientFunds), (400, -2022, E.InvalidOrder),
    (400, -4003, E.InvalidOrder), (400, -4004, E.InvalidOrder), (400, -4005, E.InvalidOrder),
    (400, -4014, E.InvalidOrder), (400, -4023, E.InvalidOrder), (400, -4016, E.InvalidOrder),
    (400, -4116, E.InvalidOrder), (400, -4131, E.OrderRejected), (400, -4164, E.InvalidOrder),
    (400, -5021, E.OrderRejected), (400, -5022, E.OrderRejected), (503, -1001, E.VenueUnavailable),
    (408, -1007, E.VenueUnavailable), (400, -1008, E.VenueUnavailable), (429, -1003, E.RateLimited),
    (400, -1015, E.RateLimited), (500, None, E.VenueUnavailable),
])
def test_codes_map_to_taxonomy(status, code, cls):
    raw = orjson.dumps({"code": code, "msg": "venue says"}) if code is not None else b"<html>oops</html>"
    err = map_error(status, raw)
    assert type(err) is cls
    assert err.venue == "binance_usdm" and err.http_status == status
    if code is not None:
        assert err.code == code and err.venue_message == "venue says"


def test_418_and_retry_after():
    err = map_error(418, orjson.dumps({"code": -1003, "msg": "banned"}), {"Retry-After": "7"})
    assert isinstance(err, E.RateLimited) and err.retry_after_s == 7.0
    assert map_error(418, b"").retry_after_s == 120.0
    assert isinstance(map_error(403, b"waf"), E.RateLimited)

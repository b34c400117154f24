"""Request authentication exactly as the venues check it (protocols/*.md §Authentication).

Upbit: Bearer JWT, HS256 or HS512 with the raw secret, single-use nonce, and `query_hash` =
SHA-512 of the non-URL-encoded query string (or of the JSON body's key=value pairs in order).
Binance: HMAC-SHA256 over query string + body as sent, `signature` last, `timestamp` inside
`recvWindow`.
"""
from __future__ import annotations

import hashlib
import hmac
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

import jwt


class AuthFailure(Exception):
    """An authentication failure carrying the venue's HTTP status and error code/name."""

    def __init__(self, status: int, code: str | int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _flatten(body: dict) -> str:
    parts = []
    for key, value in body.items():
        if isinstance(value, list):
            parts.extend(f"{key}[]={v}" for v in value)
        elif value is None:
            continue
        elif isinstance(value, bool):
            parts.append(f"{key}={'true' if value else 'false'}")
        else:
            parts.append(f"{key}={value}")
    return "&".join(parts)


class NonceCache:
    """Remember used nonces per access key (bounded; the oldest are forgotten first)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._capacity = capacity

    def use(self, access_key: str, nonce: str) -> bool:
        """Record a nonce; return False if it was already used."""
        key = (access_key, nonce)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


@dataclass(slots=True)
class UpbitAuth:
    """Verify Upbit JWTs against the configured access keys."""

    secrets: dict[str, str]
    nonces: NonceCache

    def verify(self, authorization: str | None, raw_query: str, body: dict | None) -> str:
        """Return the access key of a valid request, else raise AuthFailure (Upbit names)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthFailure(401, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthFailure(401, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.") from None
        access_key = claims.get("access_key")
        secret = self.secrets.get(access_key) if isinstance(access_key, str) else None
        if secret is None:
            raise AuthFailure(401, "invalid_access_key", "잘못된 엑세스 키입니다.")
        if header.get("alg") not in ("HS256", "HS512"):
            raise AuthFailure(401, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.")
        try:
            with warnings.catch_warnings():      # short secrets are the venue's business, not a server error
                warnings.simplefilter("ignore")
                jwt.decode(token, secret, algorithms=[header["alg"]])
        except jwt.PyJWTError:
            raise AuthFailure(401, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.") from None
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise AuthFailure(401, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.")
        self._check_hash(claims, raw_query, body)
        if not self.nonces.use(access_key, nonce):
            raise AuthFailure(401, "nonce_used", "이미 요청한 nonce값이 다시 전송되었습니다.")
        return access_key

    @staticmethod
    def _check_hash(claims: dict, raw_query: str, body: dict | None) -> None:
        candidates: list[str] = []
        if raw_query:
            candidates += [unquote(raw_query), unquote_plus(raw_query), raw_query]
        if body:
            candidates.append(_flatten(body))
        if not candidates:
            return
        got = claims.get("query_hash")
        alg = str(claims.get("query_hash_alg", "SHA512")).upper()
        if not isinstance(got, str) or alg != "SHA512":
            raise AuthFailure(401, "invalid_query_payload", "query_hash가 없거나 올바르지 않습니다.")
        for text in candidates:
            if hmac.compare_digest(hashlib.sha512(text.encode()).hexdigest(), got.lower()):
                return
        raise AuthFailure(401, "invalid_query_payload", "query_hash가 올바르지 않습니다.")


@dataclass(slots=True)
class BinanceAuth:
    """Verify Binance HMAC-SHA256 signed requests."""

    secrets: dict[str, str]

    def verify(self, api_key: str | None, raw_query: str, raw_body: str, params: dict[str, str],
               server_ms: int) -> str:
        """Return the API key of a valid request, else raise AuthFailure (Binance codes)."""
        if not api_key:
            raise AuthFailure(401, -2014, "API-key format invalid.")
        secret = self.secrets.get(api_key)
        if secret is None:
            raise AuthFailure(401, -2015, "Invalid API-key, IP, or permissions for action.")
        total = raw_query + raw_body
        idx = total.rfind("signature=")
        if idx < 0:
            raise AuthFailure(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        signed = total[:idx]
        if signed.endswith("&"):
            signed = signed[:-1]
        sig = total[idx + len("signature="):].split("&", 1)[0]
        want = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig.lower()):
            raise AuthFailure(400, -1022, "Signature for this request is not valid.")
        ts_raw = params.get("timestamp")
        if ts_raw is None:
            raise AuthFailure(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        try:
            ts = int(ts_raw)
            recv = int(params.get("recvWindow", "5000"))
        except ValueError:
            raise AuthFailure(400, -1100, "Illegal characters found in parameter 'timestamp'.") from None
        if recv <= 0 or recv > 60000:
            raise AuthFailure(400, -1131, "recvWindow must be less than 60000")
        if ts >= server_ms + 1000:
            raise AuthFailure(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if server_ms - ts > recv:
            raise AuthFailure(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return api_key

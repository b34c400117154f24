"""Upbit JWT auth: query string, SHA-512 query_hash and the signed token, exactly as Upbit specifies.

The hashed string is the parameters as `key=value&...`, not URL-encoded, in wire order; list values
repeat the key with literal brackets (`states[]=wait&states[]=watch`). No parameters, no hash.
"""
from __future__ import annotations

import hashlib
import uuid
import warnings
from typing import Any, Mapping

import jwt

try:  # PyJWT >= 2.10 warns about short HMAC keys; the venue issues the secret, not us
    from jwt.warnings import InsecureKeyLengthWarning as _ShortKeyWarning
except ImportError:  # pragma: no cover - older PyJWT does not warn
    _ShortKeyWarning = UserWarning


def query_string(params: Mapping[str, Any]) -> str:
    """Return the non-URL-encoded `k=v&...` string Upbit hashes (list values as `k[]=v` pairs)."""
    parts: list[str] = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            name = key if key.endswith("[]") else f"{key}[]"
            parts.extend(f"{name}={v}" for v in value)
        else:
            parts.append(f"{key}={value}")
    return "&".join(parts)


def query_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha512(query_string(params).encode("utf-8")).hexdigest()


def make_token(access_key: str, secret_key: str, params: Mapping[str, Any] | None = None, *,
               nonce: str | None = None, algorithm: str = "HS512") -> str:
    """Return the JWT for one request (a fresh UUID4 nonce unless given)."""
    payload: dict[str, str] = {"access_key": access_key, "nonce": nonce or str(uuid.uuid4())}
    if params:
        payload["query_hash"] = query_hash(params)
        payload["query_hash_alg"] = "SHA512"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _ShortKeyWarning)
        return jwt.encode(payload, secret_key, algorithm=algorithm)


def auth_header(access_key: str, secret_key: str, params: Mapping[str, Any] | None = None, *,
                algorithm: str = "HS512") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(access_key, secret_key, params, algorithm=algorithm)}"}

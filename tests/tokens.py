"""JWTs built by hand for the tests: read without checking, and signed (or forged) with HMAC.

Independent of the JWT library the server uses, so a forgery is exactly the bytes the test
means and a claim the library would refuse to encode (an integer `sub`) can still be sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from tests.support import TEST_SECRET

_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes | dict[str, Any]) -> str:
    """Encode bytes or a JSON object as unpadded base64url, as JWT segments are."""
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(text: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return decoded


def unverified_claims(token: str) -> dict[str, Any]:
    """Return a token's claims without checking it."""
    return _segment(token.split(".")[1])


def unverified_header(token: str) -> dict[str, Any]:
    """Return a token's header without checking it."""
    return _segment(token.split(".")[0])


def sign(
    claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256", **header: Any
) -> str:
    """Sign claims with HMAC (the test servers' key unless told otherwise)."""
    head = b64url({"alg": algorithm, "typ": "JWT", **header})
    body = b64url(claims)
    mac = hmac.new(key.encode(), f"{head}.{body}".encode(), _DIGESTS[algorithm]).digest()
    return f"{head}.{body}.{b64url(mac)}"

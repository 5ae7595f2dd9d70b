"""Who may call the session API: an API key, a JWT, or (for local use only) anyone.

Access follows the configuration (`api.config.APIConfig`, from these variables):

- `BACKEND_API_KEY` set: a request may carry it in `X-API-Key` (compared in constant time).
- `JWT_SECRET` set: a request may carry `Authorization: Bearer <JWT>`, signed HS256 with the
  secret, with `exp` (checked) and `sub` (who the caller is) required.
- Both set: either credential admits the request. A JWT, when sent, must be valid and decides
  whose sessions the caller sees; a key, when sent, must be valid.
- Neither set: the API is off (every `/agent/…` path answers 404 with a JSON message saying
  how to turn it on) unless `DEXTER_API_ENABLED` opens it without credentials for local use.

A credential for a scheme that is not configured is ignored, so a proxy's unrelated
`Authorization` header does not lock out a key holder. Failures are 401 with a
`WWW-Authenticate` challenge for each configured scheme.
"""

from __future__ import annotations

import enum
import hmac
import logging
from dataclasses import dataclass

import jwt
from fastapi import Request, Security, params
from fastapi.security import APIKeyHeader, HTTPBearer

from api.config import APIConfig
from api.errors import APIError
from api.sessions import Owner

API_KEY_HEADER = "X-API-Key"
JWT_ALGORITHMS = ["HS256"]
JWT_REQUIRED_CLAIMS = ["exp", "sub"]
JWT_LEEWAY_SECONDS = 10  # tolerated clock skew between the token issuer and us
REALM = "dexter"

API_KEY_SCHEME = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    description="The backend API key (BACKEND_API_KEY).",
    auto_error=False,
)
BEARER_SCHEME = HTTPBearer(
    scheme_name="Bearer",
    bearerFormat="JWT",
    description="A JWT signed HS256 with JWT_SECRET, with `exp` and `sub` claims.",
    auto_error=False,
)


class Access(enum.Enum):
    """Whether the API is served, and whether it asks for credentials."""

    OFF = "off"
    OPEN = "open"
    CREDENTIALS = "credentials"


log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def api_access(config: APIConfig) -> Access:
    """Credentials when any are set; open only when asked for and bound to loopback."""
    if config.api_key is not None or config.jwt_secret is not None:
        return Access.CREDENTIALS
    if not config.open_without_credentials:
        return Access.OFF
    if config.host not in LOOPBACK_HOSTS:
        log.error(
            "DEXTER_API_ENABLED opens the API without credentials, so it is served only when "
            "HOST is a loopback address (127.0.0.1, ::1, localhost), not %s; the API is off",
            config.host,
        )
        return Access.OFF
    return Access.OPEN


@dataclass(frozen=True, slots=True)
class Caller:
    """An admitted request's caller: whose sessions it may use, and who asked (for turns)."""

    owner: Owner
    user: str | None = None


class Authenticator:
    """A FastAPI dependency admitting a request or raising a 401 `APIError`."""

    def __init__(self, api_key: str | None, jwt_secret: str | None) -> None:
        self._api_key = api_key.encode() if api_key else None
        self._jwt_secret = jwt_secret

    @property
    def is_open(self) -> bool:
        return self._api_key is None and self._jwt_secret is None

    def documented_schemes(self) -> list[params.Depends]:
        """The configured schemes, as router dependencies so the OpenAPI document lists them.

        They only document: `__call__` reads the headers itself, to tell a missing
        credential from a wrong one.
        """
        schemes: list[params.Depends] = []
        if self._api_key is not None:
            schemes.append(Security(API_KEY_SCHEME))
        if self._jwt_secret is not None:
            schemes.append(Security(BEARER_SCHEME))
        return schemes

    async def __call__(self, request: Request) -> Caller:
        if self.is_open:
            return Caller(Owner())
        key = request.headers.get(API_KEY_HEADER) if self._api_key is not None else None
        token = self._bearer_token(request) if self._jwt_secret is not None else None
        if key is None and token is None:
            raise self._refusal("credentials_missing", self._missing_message())
        if key is not None and not hmac.compare_digest(key.encode(), self._api_key or b""):
            raise self._refusal("invalid_api_key", "the API key is not valid")
        if token is not None:
            owner = Owner.of_subject(self._subject(token))
            return Caller(owner, user=f"jwt:{owner.tag}")
        return Caller(Owner())

    def _bearer_token(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def _subject(self, token: str) -> str:
        try:
            claims = jwt.decode(
                token,
                self._jwt_secret or "",
                algorithms=JWT_ALGORITHMS,
                options={"require": JWT_REQUIRED_CLAIMS},
                leeway=JWT_LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise self._refusal(
                "invalid_token", "the token has expired", bearer_error=True
            ) from None
        except jwt.InvalidTokenError as exc:
            raise self._refusal(
                "invalid_token", f"the token is not valid: {exc}", bearer_error=True
            ) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise self._refusal("invalid_token", "the token's sub is empty", bearer_error=True)
        return subject

    def _missing_message(self) -> str:
        accepted = []
        if self._api_key is not None:
            accepted.append(f"{API_KEY_HEADER}: <key>")
        if self._jwt_secret is not None:
            accepted.append("Authorization: Bearer <JWT>")
        return "credentials are required: send " + " or ".join(accepted)

    def _refusal(self, error: str, message: str, *, bearer_error: bool = False) -> APIError:
        challenges = []
        if self._jwt_secret is not None:
            bearer = f'Bearer realm="{REALM}"'
            if bearer_error:
                description = message.replace('"', "'").encode("ascii", "replace").decode()
                bearer += f', error="invalid_token", error_description="{description}"'
            challenges.append(bearer)
        if self._api_key is not None:
            challenges.append(f'ApiKey realm="{REALM}", header="{API_KEY_HEADER}"')
        return APIError(401, error, message, headers={"WWW-Authenticate": ", ".join(challenges)})

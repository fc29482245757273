"""Coinbase CDP credentials: parsing a key name and PEM EC P-256 key (also
with literal ``\\n`` as pasted into env vars), refusing bad names and wrong
keys without ever quoting the PEM, the ES256 JWT's header and claims, and
loading from an owner-only JSON key file or the environment."""

from __future__ import annotations

import os
import traceback

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cryptoj_actors.adapters.coinbase.credentials import (
    ENV_KEY_NAME,
    ENV_PRIVATE_KEY,
    Credentials,
    CredentialsError,
    load_credentials,
    parse_credentials,
)

NAME = ("organizations/0b5c1a2e-3d4f-4a5b-8c6d-7e8f9a0b1c2d/"
        "apiKeys/9f8e7d6c-5b4a-4321-8fed-cba987654321")
NOW = 1_790_000_000


def _pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             serialization.NoEncryption()).decode()


def _body_chunks(pem: str, size: int = 12) -> list[str]:
    """Every run of ``size`` characters of the PEM's base64 body."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return [body[i:i + size] for i in range(len(body) - size + 1)]


@pytest.fixture(scope="module")
def p256():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def pem(p256) -> str:
    return _pem(p256)


def _assert_secret_free(exc: BaseException, pem: str, source: str) -> None:
    message = str(exc)
    assert source in message
    shown = message + "".join(traceback.format_exception(exc))
    assert not [c for c in _body_chunks(pem) if c in shown]


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.PrivateFormat.PKCS8])
def test_parse_accepts_p256_pem(p256, fmt) -> None:
    creds = parse_credentials(f"  {NAME}\n", _pem(p256, fmt), "test source")
    assert creds.name == NAME
    assert creds.source == "test source"
    assert creds.private_key.private_numbers() == p256.private_numbers()


def test_parse_accepts_literal_backslash_n(p256, pem) -> None:
    pasted = pem.strip().replace("\n", "\\n")
    assert "\n" not in pasted
    creds = parse_credentials(NAME, pasted, "environment")
    assert creds.private_key.private_numbers() == p256.private_numbers()


@pytest.mark.parametrize("name", ["", "my-key", "organizations/abc/apiKeys/def",
                                  NAME + "/extra", "apiKeys/9f8e7d6c-5b4a"])
def test_parse_rejects_bad_name(pem, name) -> None:
    with pytest.raises(CredentialsError) as info:
        parse_credentials(name, pem, "src-bad-name")
    _assert_secret_free(info.value, pem, "src-bad-name")


def test_parse_rejects_garbage_and_truncated_pem(pem) -> None:
    lines = pem.strip().splitlines()
    truncated = "\n".join(lines[:2] + lines[-1:])
    garbage = "-----BEGIN EC PRIVATE KEY-----\nTHISisNOTaKEYatALL0123456789\n" \
              "-----END EC PRIVATE KEY-----\n"
    for bad in (garbage, truncated, "not a pem at all", pem.replace("BEGIN", "BOGUS")):
        with pytest.raises(CredentialsError) as info:
            parse_credentials(NAME, bad, "src-garbage")
        _assert_secret_free(info.value, bad, "src-garbage")
        _assert_secret_free(info.value, pem, "src-garbage")


@pytest.mark.parametrize("make", [
    lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    lambda: ec.generate_private_key(ec.SECP384R1()),
], ids=["rsa", "p384"])
def test_parse_rejects_other_key_kinds(make) -> None:
    other = _pem(make(), serialization.PrivateFormat.PKCS8)
    with pytest.raises(CredentialsError, match="P-256") as info:
        parse_credentials(NAME, other, "src-kind")
    _assert_secret_free(info.value, other, "src-kind")


def test_repr_hides_key(p256, pem) -> None:
    creds = parse_credentials(NAME, pem, "s")
    text = repr(creds) + str(creds)
    assert NAME not in text and "0b5c1a2e" not in text
    assert "private_key" not in text and "BEGIN" not in text
    assert str(p256.private_numbers().private_value) not in text
    assert not [c for c in _body_chunks(pem) if c in text]


def test_jwt_header_and_claims(p256, pem) -> None:
    creds = parse_credentials(NAME, pem, "s")
    token = creds.jwt("GET", "api.coinbase.com", "/api/v3/brokerage/accounts", now=NOW + 0.9)
    claims = jwt.decode(token, p256.public_key(), algorithms=["ES256"], issuer="cdp",
                        options={"verify_exp": False, "verify_nbf": False})
    assert claims == {"sub": NAME, "iss": "cdp", "nbf": NOW, "exp": NOW + 120,
                      "uri": "GET api.coinbase.com/api/v3/brokerage/accounts"}
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == NAME
    int(header["nonce"], 16)  # hex
    again = jwt.get_unverified_header(creds.jwt("GET", "api.coinbase.com", "/x", now=NOW))
    assert again["nonce"] != header["nonce"]


def test_jwt_fails_verification_with_another_key(pem) -> None:
    token = parse_credentials(NAME, pem, "s").jwt("GET", "h", "/p", now=NOW)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["ES256"], options={"verify_exp": False})


def _key_file(tmp_path, content: bytes, mode: int = 0o600):
    path = tmp_path / "cdp_api_key.json"
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


def test_load_from_key_file(tmp_path, p256, pem) -> None:
    path = _key_file(tmp_path, orjson.dumps({"name": NAME, "privateKey": pem}))
    creds = load_credentials(str(path), environ={})
    assert isinstance(creds, Credentials)
    assert creds.name == NAME and str(path) in creds.source
    assert creds.private_key.private_numbers() == p256.private_numbers()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_load_refuses_shared_key_file(tmp_path, pem, mode) -> None:
    path = _key_file(tmp_path, orjson.dumps({"name": NAME, "privateKey": pem}), mode)
    with pytest.raises(CredentialsError, match="chmod 600") as info:
        load_credentials(str(path), environ={})
    _assert_secret_free(info.value, pem, str(path))


@pytest.mark.parametrize("content", [b"not json {", b"[1, 2]", b'{"name": "x"}',
                                     b'{"privateKey": "x"}', b'{"name": 1, "privateKey": 2}'])
def test_load_refuses_malformed_key_file(tmp_path, content) -> None:
    path = _key_file(tmp_path, content)
    with pytest.raises(CredentialsError) as info:
        load_credentials(str(path), environ={})
    assert str(path) in str(info.value)


def test_load_refuses_directory_and_missing_file(tmp_path) -> None:
    with pytest.raises(CredentialsError, match="not a regular file"):
        load_credentials(str(tmp_path), environ={})
    missing = tmp_path / "nope.json"
    with pytest.raises(CredentialsError) as info:
        load_credentials(str(missing), environ={})
    assert str(missing) in str(info.value)


def test_load_from_environ(p256, pem) -> None:
    env = {ENV_KEY_NAME: NAME, ENV_PRIVATE_KEY: pem.replace("\n", "\\n")}
    creds = load_credentials(environ=env)
    assert creds is not None and creds.name == NAME and creds.source == "environment"
    assert creds.private_key.private_numbers() == p256.private_numbers()
    assert load_credentials(environ={}) is None
    assert load_credentials(environ={"OTHER": "x"}) is None


@pytest.mark.parametrize("present,missing", [(ENV_KEY_NAME, ENV_PRIVATE_KEY),
                                             (ENV_PRIVATE_KEY, ENV_KEY_NAME)])
def test_load_environ_half_set(pem, present, missing) -> None:
    env = {present: NAME if present == ENV_KEY_NAME else pem}
    with pytest.raises(CredentialsError) as info:
        load_credentials(environ=env)
    assert str(info.value).startswith(f"environment: {missing} is not set")
    _assert_secret_free(info.value, pem, "environment")


def test_key_file_wins_over_environ(tmp_path, p256, pem) -> None:
    path = _key_file(tmp_path, orjson.dumps({"name": NAME, "privateKey": pem}))
    env = {ENV_KEY_NAME: "garbage", ENV_PRIVATE_KEY: "garbage"}
    creds = load_credentials(str(path), environ=env)
    assert creds is not None and creds.private_key.private_numbers() == p256.private_numbers()
    only_one = {ENV_KEY_NAME: NAME}  # would be an error if the environment were read
    assert load_credentials(str(path), environ=only_one) is not None



def test_logs_show_only_the_last_four_characters_of_the_key_id(pem):
    assert parse_credentials(NAME, pem, "t").label == "apiKeys/…4321"

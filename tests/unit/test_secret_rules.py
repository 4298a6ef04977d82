"""Secret rules: key syntax, the stringified-value limit, system names, obfuscation (no I/O)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import SecretInvalidFormat
from chalicelib.domain.secrets import (
    OBFUSCATED,
    is_system_secret,
    parse,
    shown_value,
    stringify,
    validate_key,
)


@pytest.mark.parametrize("key", ["a", "API_KEY", "my-secret_2", "x" * 100, "lp-faas-default-app-key"])
def test_valid_keys_pass(key):
    assert validate_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 101, "has space", "dot.ted", "slash/ed", "ümlaut", None, 5, ["k"]])
def test_invalid_keys_are_invalid_format(key):
    with pytest.raises(SecretInvalidFormat) as exc:
        validate_key(key)
    assert exc.value.v2_code == "com.liveperson.faas.secret.invalid-format"
    assert exc.value.status == 400


def test_value_is_stringified_like_json_stringify():
    assert stringify({"a": [1, "b", None, True]}) == '{"a":[1,"b",null,true]}'
    assert stringify("plain") == '"plain"'
    assert stringify("€") == '"€"'  # not \u escaped: the limit counts characters, as JavaScript does
    assert parse(stringify({"k": 1.5})) == {"k": 1.5}


def test_value_limit_is_16384_characters_after_stringify():
    at_limit = "x" * (16_384 - 2)  # the quotes count
    assert len(stringify(at_limit)) == 16_384
    with pytest.raises(SecretInvalidFormat) as exc:
        stringify(at_limit + "x")
    assert "16384" in exc.value.message


def test_value_limit_counts_utf16_units_like_javascript():
    emoji = "\U0001f600"  # two UTF-16 units, one Python character
    stringify(emoji * ((16_384 - 2) // 2))
    with pytest.raises(SecretInvalidFormat):
        stringify(emoji * ((16_384 - 2) // 2) + "x")


def test_oversized_value_is_not_echoed_in_the_error():
    with pytest.raises(SecretInvalidFormat) as exc:
        stringify("TOPSECRET" * 2000)
    assert "TOPSECRET" not in exc.value.message


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, object()])
def test_non_json_values_are_invalid_format(value):
    with pytest.raises(SecretInvalidFormat):
        stringify(value)


@pytest.mark.parametrize(("key", "system"), [
    ("lp-faas-default-app-key", True), ("lp-faas-orchestrator-app-key", True),
    ("LIVEPERSON_DEFAULT_APP_KEY", True), ("LIVEPERSON_DEFAULT_anything", True),
    ("lp-faas-default-app-key-2", False), ("liveperson_default_x", False), ("mine", False),
])
def test_system_secrets_are_the_seed_names_and_the_v2_prefix(key, system):
    assert is_system_secret(key) is system


def test_masked_view_never_reads_the_value():
    def explode() -> str:
        raise AssertionError("decrypted for a caller who may not see it")

    assert shown_value(explode, may_read_value=False) == OBFUSCATED
    assert shown_value(lambda: {"a": 1}, may_read_value=True) == {"a": 1}

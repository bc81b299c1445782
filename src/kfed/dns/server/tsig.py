"""TSIG keys from the forms people have them in: `name:algorithm:secret` or a BIND key file.

A BIND key file is what `tsig-keygen` prints and what named.conf includes:

    key "xfr-key" {
        algorithm hmac-sha256;
        secret "c2VjcmV0...";
    };
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from pathlib import Path

import dns.name
import dns.tsig

Keyring = dict[dns.name.Name, dns.tsig.Key]

_KEY_BLOCK = re.compile(r'key\s+"?([^"\s{]+)"?\s*\{(.*?)\}\s*;', re.S)
_ALGORITHM = re.compile(r"algorithm\s+\"?([\w.-]+)\"?\s*;")
_SECRET = re.compile(r'secret\s+"([^"]+)"\s*;')


class TSIGKeyError(ValueError):
    """A key that cannot be used: bad syntax, unknown algorithm, or a secret that is not base64."""


def make_key(name: str, algorithm: str, secret: str) -> dns.tsig.Key:
    algorithm_name = dns.name.from_text(algorithm)
    if algorithm_name not in dns.tsig.mac_sizes:
        raise TSIGKeyError(f"unknown TSIG algorithm {algorithm!r}")
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError) as e:
        raise TSIGKeyError(f"key {name}: the secret is not base64") from e
    if not raw:
        raise TSIGKeyError(f"key {name}: empty secret")
    return dns.tsig.Key(dns.name.from_text(name), raw, algorithm_name)


def parse_tsig_key(text: str) -> dns.tsig.Key:
    """`name:algorithm:base64secret`, e.g. `xfr:hmac-sha256:c2VjcmV0...`."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise TSIGKeyError("a TSIG key is name:algorithm:base64secret")
    name, algorithm, secret = parts
    return make_key(name, algorithm, secret)


def parse_key_file(text: str) -> list[dns.tsig.Key]:
    keys = []
    for name, body in _KEY_BLOCK.findall(text):
        algorithm = _ALGORITHM.search(body)
        secret = _SECRET.search(body)
        if algorithm is None or secret is None:
            raise TSIGKeyError(f"key {name}: needs an algorithm and a secret")
        keys.append(make_key(name, algorithm.group(1), secret.group(1)))
    if not keys:
        raise TSIGKeyError("no key block found")
    return keys


def load_keys(values: Iterable[str]) -> Keyring:
    """A keyring from CLI values, each either `name:algorithm:secret` or the path of a key file."""
    keyring: Keyring = {}
    for value in values:
        path = Path(value)
        keys = parse_key_file(path.read_text()) if path.is_file() else [parse_tsig_key(value)]
        for key in keys:
            keyring[key.name] = key
    return keyring


def key_file_text(key: dns.tsig.Key) -> str:
    """The BIND key-file (and named.conf) form of `key`."""
    secret = base64.b64encode(key.secret).decode()
    return f'key "{key.name.to_text(omit_final_dot=True)}" {{\n    algorithm {key.algorithm.to_text(omit_final_dot=True)};\n    secret "{secret}";\n}};\n'

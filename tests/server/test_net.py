"""Client IP resolution: X-Forwarded-For counts only when it comes through trusted proxies."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from server.config import ConfigError
from server.net import parse_ip, parse_trusted_proxies, resolve_client_ip

PROXIES = ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]


def xff(*values: str) -> Headers:
    """Return request headers with one X-Forwarded-For line per value."""
    return Headers(raw=[(b"x-forwarded-for", value.encode()) for value in values])


def test_nothing_trusted_ignores_the_header() -> None:
    assert resolve_client_ip("127.0.0.1", xff("6.6.6.6"), []) == "127.0.0.1"
    assert resolve_client_ip("10.1.2.3", xff("6.6.6.6"), []) == "10.1.2.3"


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["6.6.6.6"], "203.0.113.9"),  # untrusted peer: spoofed header ignored
        ("10.1.2.3", ["198.51.100.4"], "198.51.100.4"),  # trusted peer (CIDR)
        ("192.168.1.7", ["198.51.100.4"], "198.51.100.4"),  # trusted peer (single address)
        ("192.168.1.8", ["198.51.100.4"], "192.168.1.8"),  # the neighbour is not trusted
        ("10.1.2.3", [], "10.1.2.3"),  # trusted peer without the header
        # Right to left through trusted hops; the client's own claims left of it are ignored.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.4, 10.9.9.9"], "198.51.100.4"),
        ("10.1.2.3", ["6.6.6.6", "198.51.100.4, 10.9.9.9"], "198.51.100.4"),  # two lines
        ("10.1.2.3", ["10.5.5.5, 10.9.9.9"], "10.5.5.5"),  # all trusted: the leftmost
        # A hop that is not an address ends the walk at the last trusted one.
        ("10.1.2.3", ["198.51.100.4, garbage"], "10.1.2.3"),
        ("10.1.2.3", ["garbage, 10.9.9.9"], "10.9.9.9"),
        ("10.1.2.3", ["unknown"], "10.1.2.3"),
        # Ports, brackets and IPv6.
        ("10.1.2.3", ["198.51.100.4:5123"], "198.51.100.4"),
        ("10.1.2.3", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("fd00::1", ["2001:db8::7"], "2001:db8::7"),
        ("2001:db8::9", ["198.51.100.4"], "2001:db8::9"),
        # An IPv4 proxy seen over IPv6 (mapped) is the same proxy.
        ("::ffff:10.1.2.3", ["198.51.100.4"], "198.51.100.4"),
        ("::ffff:203.0.113.9", ["198.51.100.4"], "203.0.113.9"),
    ],
)
def test_walks_trusted_hops_right_to_left(peer: str, forwarded: list[str], expected: str) -> None:
    assert resolve_client_ip(peer, xff(*forwarded), PROXIES) == expected


def test_plain_mappings_and_parsed_lists_work_alike() -> None:
    trusted = parse_trusted_proxies(PROXIES)
    headers = {"X-Forwarded-For": "198.51.100.4"}
    assert resolve_client_ip("10.1.2.3", headers, trusted) == "198.51.100.4"
    assert resolve_client_ip("10.1.2.3", headers, PROXIES) == "198.51.100.4"
    assert resolve_client_ip("203.0.113.9", headers, trusted) == "203.0.113.9"


def test_a_peer_that_is_not_an_address_is_kept_as_it_is() -> None:
    assert resolve_client_ip("testclient", xff("6.6.6.6"), PROXIES) == "testclient"
    assert resolve_client_ip(None, xff("6.6.6.6"), PROXIES) is None


def test_a_very_long_chain_is_cut() -> None:
    chain = ", ".join(["198.51.100.4"] + ["10.0.0.1"] * 100)
    assert resolve_client_ip("10.1.2.3", xff(chain), PROXIES) == "10.0.0.1"


def test_bad_trusted_proxies_fail_at_start() -> None:
    with pytest.raises(ConfigError, match="not-an-ip"):
        parse_trusted_proxies(["10.0.0.0/8", "not-an-ip"])
    assert not parse_trusted_proxies([" ", ""])
    assert "10.0.0.1" not in parse_trusted_proxies(["10.0.0.0/8"])  # strings are not addresses


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2.3.4", "1.2.3.4"), (" 1.2.3.4:80 ", "1.2.3.4"), ('"1.2.3.4"', "1.2.3.4"),
     ("[::1]", "::1"), ("::1", "::1"), ("::ffff:1.2.3.4", "1.2.3.4"),
     ("", None), ("1.2.3", None), ("_hidden", None), ("[::1", None)],
)  # fmt: skip
def test_parse_ip(text: str, expected: str | None) -> None:
    address = parse_ip(text)
    assert (str(address) if address else None) == expected

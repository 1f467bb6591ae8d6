"""Who a request comes from, for the login throttle: its address, and the networks it shares.

One machine easily holds a whole IPv6 /64 and a site a /48, so counting wrong passwords per
address would let one attacker take a fresh address for every few tries. A request's tries count
against several keys (:func:`client_keys`): its IPv6 /64 and /48 (an IPv4 address and its /24).

Behind a reverse proxy every request comes from the proxy's address. The address the proxy saw
is in ``X-Forwarded-For``, but any client can send that header, so it is read only when the
request comes from a proxy the operator named (``imagen-nb serve --trusted-proxy``; none by
default): :func:`client_address`.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: the prefix each key of a client covers, narrowest first
IPV6_PREFIXES = (64, 48)
IPV4_PREFIXES = (32, 24)


def client_keys(remote_ip: str | None) -> tuple[str, ...]:
    """The keys a client's wrong passwords count against, narrowest first: an IPv6 address's /64
    and /48, an IPv4 address and its /24 (an IPv4-mapped IPv6 address counts as IPv4); the text
    itself when it is no address."""
    try:
        address = ipaddress.ip_address(remote_ip or "")
    except ValueError:
        return (remote_ip or "?",)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefixes = IPV6_PREFIXES if address.version == 6 else IPV4_PREFIXES
    keys = [str(ipaddress.ip_network(f"{address}/{p}", strict=False)) for p in prefixes]
    if address.version == 4:
        keys[0] = str(address)
    return tuple(keys)


def client_key(remote_ip: str | None) -> str:
    """The narrowest key of :func:`client_keys`: the IPv4 address or the IPv6 /64."""
    return client_keys(remote_ip)[0]


def trusted_proxies(values: Iterable[str] | None) -> tuple[Network, ...]:
    """Parse ``--trusted-proxy`` values (addresses or networks: ``127.0.0.1``, ``10.0.0.0/8``).

    Raises:
        ValueError: a value is neither, naming it and the forms accepted.
    """
    out = []
    for value in values or ():
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {value!r} is not an IP address or network; give the address the "
                             "proxy connects from, e.g. 127.0.0.1, ::1 or 10.0.0.0/8") from None
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in net for net in proxies if net.version == address.version)


def client_address(remote_ip: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The address a request comes from. Without trusted proxies (the default), or when the
    connection does not come from one, that is ``remote_ip`` and ``X-Forwarded-For`` is ignored.
    From a trusted proxy, it is the right-most ``X-Forwarded-For`` hop that is not itself a
    trusted proxy (hops further left were written by the client and prove nothing); a hop that
    is no address counts as the proxy's own address."""
    peer = _address(remote_ip or "")
    if not proxies or not _trusted(peer, proxies):
        return remote_ip or "?"
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote_ip or "?"
        if not _trusted(address, proxies):
            return str(address)
    return str(_address(hops[0])) if hops else (remote_ip or "?")

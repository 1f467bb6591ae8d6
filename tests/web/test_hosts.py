"""The Host/Origin values the served app answers to (imagen_nb.web.hosts)."""

from __future__ import annotations

import socket

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from imagen_nb.web.hosts import HostGate, served_hosts


def test_a_loopback_address_answers_to_every_loopback_name_at_its_port_only():
    hosts = served_hosts("::1", 5006)
    assert hosts == {"127.0.0.1:5006", "localhost:5006", "[::1]:5006"}
    assert served_hosts("127.0.0.1", 5006) == hosts


def test_another_address_answers_to_itself_and_the_names_given():
    hosts = served_hosts("192.0.2.7", 8000, ["studio.example.org", "proxy.example.org:8443", "[2001:db8::1]:9000"])
    assert "192.0.2.7:8000" in hosts and "localhost:8000" not in hosts
    assert {"studio.example.org", "studio.example.org:443", "proxy.example.org:8443", "[2001:db8::1]:9000"} <= hosts
    everywhere = served_hosts("0.0.0.0", 8000)
    assert not any("*" in h for h in everywhere)
    assert {"127.0.0.1:8000", "[::1]:8000", f"{socket.gethostname().lower()}:8000"} <= everywhere


@pytest.mark.parametrize("entry, says", [("*", "name the host"), (":80", "names no host"), ("a:b", "HOST:PORT")])
def test_a_bad_extra_name_is_refused_with_the_fix(entry, says):
    with pytest.raises(ValueError, match=says):
        served_hosts("127.0.0.1", 5006, [entry])


def _request(**headers):
    return HTTPServerRequest(start_line=RequestStartLine("GET", "/ws", "HTTP/1.1" if "Host" in headers else "HTTP/1.0"), headers=HTTPHeaders(headers))


def test_the_gate_checks_host_and_origin():
    gate = HostGate(served_hosts("127.0.0.1", 5006))
    assert not gate.refuses(_request(Host="127.0.0.1:5006"))
    assert not gate.refuses(_request(Host="localhost:5006", Origin="http://127.0.0.1:5006"))
    assert gate.refuses(_request(Host="evil.example:5006", Origin="http://evil.example:5006"))
    assert gate.refuses(_request(Host="127.0.0.1:5006", Origin="http://evil.example"))
    assert gate.refuses(_request(Host="127.0.0.1:5006", Origin="null"))
    assert gate.refuses(_request())

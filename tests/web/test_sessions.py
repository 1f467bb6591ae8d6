"""Login sessions end for good, and wrong passwords cost time (imagen_nb.web.sessions)."""

from __future__ import annotations

from imagen_nb.web.clients import client_address, client_keys, trusted_proxies
from imagen_nb.web.sessions import LoginThrottle, Sessions, client_key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Socket:
    def __init__(self):
        self.closed = None

    def close(self, code=None, reason=None):
        self.closed = (code, reason)


def test_a_session_ends_at_logout_and_closes_its_websockets():
    sessions = Sessions(clock=Clock())
    sid = sessions.open("me")
    ws = Socket()
    sessions.follow(sid, ws)
    assert sessions.user(sid) == "me"
    assert sessions.close(sid) is True
    assert sessions.user(sid) is None and ws.closed == (1008, "signed out")
    assert sessions.close(sid) is False and sessions.user("made-up") is None and sessions.user(None) is None


def test_a_session_expires_when_idle_and_when_old():
    clock = Clock()
    sessions = Sessions(lifetime=100, idle=30, clock=clock)
    sid = sessions.open("me")
    for _ in range(3):  # used every 20 s: stays alive while younger than its lifetime
        clock.now += 20
        assert sessions.user(sid) == "me"
    clock.now += 50
    assert sessions.user(sid) is None  # 110 s old
    idle = sessions.open("me")
    clock.now += 31
    assert sessions.user(idle) is None and len(sessions) == 0


def test_wrong_passwords_lock_a_client_out_for_longer_each_time():
    clock = Clock()
    throttle = LoginThrottle(free=3, base=1, cap=8, clock=clock)
    assert [throttle.failed("a") for _ in range(7)] == [0, 0, 0, 1, 2, 4, 8]
    assert throttle.failed("a") == 8  # capped
    assert throttle.wait("a") == 8 and throttle.wait("b") == 0  # another client is not locked out
    clock.now += 8
    assert throttle.wait("a") == 0
    throttle.succeeded("a")
    assert throttle.failed("a") == 0  # a good password forgets the count


def test_the_throttle_remembers_a_bounded_number_of_clients():
    throttle = LoginThrottle(max_clients=100, clock=Clock())
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert 0 < len(throttle._failures) <= 100


def test_ipv6_clients_count_by_their_64_network():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("127.0.0.2") == "127.0.0.2" and client_key(None) == "?"


def test_ipv6_clients_count_by_their_64_and_48_networks_and_ipv4_by_address_and_24():
    assert client_keys("2001:db8:1:2::5") == ("2001:db8:1:2::/64", "2001:db8:1::/48")
    assert client_keys("192.0.2.7") == ("192.0.2.7", "192.0.2.0/24")
    assert client_keys("::ffff:192.0.2.7") == ("192.0.2.7", "192.0.2.0/24")


def test_rotating_64s_inside_one_48_is_stopped_by_the_48():
    clock = Clock()
    throttle = LoginThrottle(free=3, free_wide=30, clock=clock)
    tries = 0
    for i in range(5000):  # a fresh /64 for every try: each alone would always be free
        keys = client_keys(f"2001:db8:7:{i:x}::1")
        if throttle.wait(keys) > 0:
            break
        throttle.failed(keys)
        tries += 1
    assert tries <= 31, tries  # 30 free tries for the whole /48, then it is locked out
    assert throttle.wait(client_keys("2001:db8:7:ffff::9")) > 0  # another /64 of that /48 too
    assert throttle.wait(client_keys("2001:db8:8::1")) == 0  # the next /48 is not
    throttle.succeeded(client_keys("2001:db8:7:1::1"))  # a good password frees its /64 only
    assert throttle.wait(client_keys("2001:db8:7:1::1")) > 0


def test_a_flood_of_fresh_addresses_cannot_push_out_a_locked_out_client():
    clock = Clock()
    throttle = LoginThrottle(max_clients=10_000, clock=clock)
    attacker = client_keys("2001:db8:66::1")
    for _ in range(10):
        throttle.failed(attacker)
    assert throttle.wait(attacker) > 0
    for i in range(25_000):  # one wrong try from each of 25,000 other /48s
        throttle.failed(client_keys(f"2001:db8:{i // 256 + 1000:x}:{i % 256:x}::1"))
    assert len(throttle._failures) <= 10_000
    assert throttle.wait(attacker) > 0, "the locked-out client was forgotten"


def test_x_forwarded_for_is_read_only_from_a_trusted_proxy():
    proxies = trusted_proxies(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("192.0.2.9", ["203.0.113.5"], ()) == "192.0.2.9"  # off by default
    assert client_address("192.0.2.9", ["203.0.113.5"], proxies) == "192.0.2.9"  # not from a proxy
    assert client_address("127.0.0.1", ["203.0.113.5"], proxies) == "203.0.113.5"
    # hops a client wrote itself (left of what the proxies appended) prove nothing
    assert client_address("127.0.0.1", ["1.1.1.1, 203.0.113.5, 10.1.2.3"], proxies) == "203.0.113.5"
    assert client_address("127.0.0.1", ["1.1.1.1", "203.0.113.5"], proxies) == "203.0.113.5"
    assert client_address("127.0.0.1", ["[2001:db8::1]:4000"], proxies) == "2001:db8::1"
    assert client_address("127.0.0.1", ["not an address"], proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", [], proxies) == "127.0.0.1"


def test_a_trusted_proxy_that_is_no_address_is_refused_by_name():
    import pytest

    with pytest.raises(ValueError, match="'proxy.local' is not an IP address"):
        trusted_proxies(["proxy.local"])

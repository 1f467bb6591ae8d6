"""Login sessions end for good, and wrong passwords cost time (imagen_nb.web.sessions)."""

from __future__ import annotations

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
    assert len(throttle._failures) == 100


def test_ipv6_clients_count_by_their_64_network():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("127.0.0.2") == "127.0.0.2" and client_key(None) == "?"

#!/usr/bin/python3
"""End-to-end test of examples/chat/chat.py: `/usr/bin/python3 examples/chat/test_chat.py`.

Starts its own redis-server and chat.py processes on free 127.0.0.1 ports, checks
the contract (cross-instance delivery through Redis, echo, /health, 404, 403,
CHAT_REFUSE_ALL, close logging, PORT errors, SIGTERM), and always cleans up.
Exit 0 on success; non-zero with a message on failure. Every wait is bounded.
CHAT_TEST_VERBOSE=1 prints the processes' logs at the end.
"""
import asyncio
import json
import os
import signal
import socket
import sys
import time

import websockets.client
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
CHAT = os.path.join(HERE, "chat.py")
PYTHON = "/usr/bin/python3"
WAIT = 5.0  # seconds: the bound for every single wait


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose stderr+stdout lines are collected as they come."""

    def __init__(self, name):
        self.name, self.proc, self.lines, self.reader = name, None, [], None

    async def start(self, *argv, env=None):
        self.proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        async for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def output(self):
        return "\n".join(f"  [{self.name}] {line}" for line in self.lines)

    async def wait_line(self, text, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise Failure(f"{self.name}: no line containing {text!r}\n{self.output()}")

    async def wait_exit(self, timeout=WAIT):
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            raise Failure(f"{self.name}: still running after {timeout} s\n{self.output()}")
        await asyncio.wait([self.reader], timeout=1)
        return code

    async def stop(self):
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), WAIT)


def chat_env(port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.pop("PORT", None)
    if port is not None:
        env["PORT"] = str(port)
    env.update(extra)
    return env


UPGRADE = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


async def http_get(port, path, extra=""):
    """(status, body) of a raw GET; `extra` adds header lines (e.g. UPGRADE)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
    data = await asyncio.wait_for(reader.read(), WAIT)  # the server closes after answering
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def connect(port, user, headers=()):
    return await websockets.client.connect(
        f"ws://127.0.0.1:{port}/ws/{user}", extra_headers=list(headers),
        open_timeout=WAIT, close_timeout=1)


async def receive(ws, what):
    try:
        return await asyncio.wait_for(ws.recv(), WAIT)
    except asyncio.TimeoutError:
        raise Failure(f"nothing received within {WAIT} s: {what}")


async def refused_status(port, user, headers=()):
    try:
        ws = await connect(port, user, headers)
    except websockets.exceptions.InvalidStatusCode as error:
        return error.status_code
    await ws.close()
    return 101


async def run(children):
    redis_port, port1, port2, port3, port4 = (free_port() for _ in range(5))
    redis = await Process("redis").start(
        "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--daemonize", "no")
    children.append(redis)
    await redis.wait_line("Ready to accept connections")
    url = f"redis://127.0.0.1:{redis_port}/0"

    chat1, chat2 = Process("chat1"), Process("chat2")
    children += [chat1, chat2]
    await chat1.start(PYTHON, CHAT, env=chat_env(port1, CHAT_REDIS_URL=url))
    # chat2: PORT is invalid, --port wins
    await chat2.start(PYTHON, CHAT, "--port", str(port2), env=chat_env("nope", CHAT_REDIS_URL=url))
    for chat in (chat1, chat2):
        await chat.wait_line("subscribed channel=wsscale-chat")
        await chat.wait_line("listening")

    # /health and 404s
    check(await http_get(port1, "/health") == (200, b"ok"), "GET /health is not 200 ok")
    check((await http_get(port1, "/other"))[0] == 404, "GET /other is not 404")
    check((await http_get(port1, "/ws/alice"))[0] == 404, "GET /ws/alice without upgrade is not 404")
    check(await refused_status(port1, "") == 404, "upgrade on /ws/ is not 404")
    print("ok: /health 200, other requests 404")

    # 403 when X-WSScale-User-Id differs from the path; accepted when it matches
    check(await refused_status(port1, "alice", [("X-WSScale-User-Id", "mallory")]) == 403,
          "a mismatching X-WSScale-User-Id is not refused with 403")
    check((await http_get(port1, "/ws/alice", UPGRADE + "X-WSScale-User-Id: bob\r\n"))[0] == 403,
          "a mismatching X-WSScale-User-Id (raw request) is not refused with 403")
    check(await refused_status(port1, "alice", [("X-WSScale-User-Id", "alice")]) == 101,
          "a matching X-WSScale-User-Id is refused")
    print("ok: 403 on a mismatching X-WSScale-User-Id")

    # alice on chat1, bob on chat2: delivery across instances through Redis
    alice = await connect(port1, "alice", [("X-WSScale-User-Id", "alice")])
    bob = await connect(port2, "bob")
    await chat2.wait_line("open user=bob")
    await alice.send(json.dumps({"to": "bob", "text": "hi bob", "id": 7}))
    got = json.loads(await receive(bob, "alice -> bob"))
    check(got == {"from": "alice", "text": "hi bob", "id": 7}, f"bob got {got!r}")
    await bob.send(json.dumps({"to": "alice", "text": "hi alice"}))
    got = json.loads(await receive(alice, "bob -> alice"))
    check(got == {"from": "bob", "text": "hi alice"}, f"alice got {got!r}")
    print("ok: alice (chat1) -> bob (chat2) and back, through Redis")

    # echo of anything else, same type; a message to nobody is dropped
    for message in ("plain text", '{"foo": 1}', '{"to": 5, "text": "x"}', b"\x00\x01binary"):
        await alice.send(message)
        echoed = await receive(alice, f"echo of {message!r}")
        check(echoed == message and type(echoed) is type(message), f"echo {message!r} -> {echoed!r}")
    await alice.send(json.dumps({"to": "nobody", "text": "lost"}))
    await alice.send("still here")
    check(await receive(alice, "echo after a message to nobody") == "still here", "bad echo")
    print("ok: echo of non-chat text and binary; a message to nobody is dropped")

    # the newest connection of a user on an instance replaces the older
    bob2 = await connect(port2, "bob")
    await asyncio.wait_for(bob.wait_closed(), WAIT)
    check(bob.close_code == 1000, f"replaced connection closed with {bob.close_code}")
    await alice.send(json.dumps({"to": "bob", "text": "to the new one"}))
    got = json.loads(await receive(bob2, "alice -> newest bob"))
    check(got["text"] == "to the new one", f"newest bob got {got!r}")
    print("ok: a newer connection replaces the older one")

    # the app logs the close code/reason it received
    await bob2.close(4001, "Server Rebalancing")
    await chat2.wait_line("closed user=bob code=4001 reason=Server Rebalancing")
    print("ok: close logged as 'closed user=bob code=4001 reason=Server Rebalancing'")

    # SIGTERM: connections get 1001, exit 0 within 2 s
    started = time.monotonic()
    chat1.proc.send_signal(signal.SIGTERM)
    code = await chat1.wait_exit(timeout=3)
    elapsed = time.monotonic() - started
    check(code == 0 and elapsed < 2.0, f"SIGTERM: exit {code} after {elapsed:.2f} s\n{chat1.output()}")
    await asyncio.wait_for(alice.wait_closed(), WAIT)
    check(alice.close_code == 1001, f"alice closed with {alice.close_code} on SIGTERM")
    await chat1.wait_line("closed user=alice code=1001")
    print(f"ok: SIGTERM exits 0 in {elapsed:.2f} s, clients get 1001")

    # without CHAT_REDIS_URL: a warning, local delivery only
    chat3 = await Process("chat3").start(PYTHON, CHAT, env=chat_env(port3))
    children.append(chat3)
    await chat3.wait_line("listening")
    check(any("CHAT_REDIS_URL is unset" in line for line in chat3.lines), "no warning without Redis")
    carol, dave = await connect(port3, "carol"), await connect(port3, "dave")
    await carol.send(json.dumps({"to": "dave", "text": "local"}))
    check(json.loads(await receive(dave, "local delivery")) == {"from": "carol", "text": "local"},
          "local delivery without Redis failed")
    await carol.close()
    await dave.close()
    print("ok: without CHAT_REDIS_URL, a warning and local delivery")

    # CHAT_REFUSE_ALL=1 refuses every upgrade with 403, /health still answers
    chat4 = await Process("chat4").start(PYTHON, CHAT, env=chat_env(port4, CHAT_REFUSE_ALL="1"))
    children.append(chat4)
    await chat4.wait_line("listening")
    check(await refused_status(port4, "erin") == 403, "CHAT_REFUSE_ALL=1 did not refuse with 403")
    check(await http_get(port4, "/ws/erin", UPGRADE) == (403, b"refused by CHAT_REFUSE_ALL"),
          "CHAT_REFUSE_ALL=1: not 403 'refused by CHAT_REFUSE_ALL'")
    check(await http_get(port4, "/health") == (200, b"ok"), "/health fails with CHAT_REFUSE_ALL")
    print("ok: CHAT_REFUSE_ALL=1 refuses with 403")

    # PORT missing or invalid: exit 2 naming PORT
    for label, env in (("missing", chat_env(None)), ("invalid", chat_env("70000"))):
        bad = await Process(f"chat-{label}-port").start(PYTHON, CHAT, env=env)
        children.append(bad)
        code = await bad.wait_exit()
        check(code == 2 and any("PORT" in line for line in bad.lines),
              f"{label} PORT: exit {code}\n{bad.output()}")
    print("ok: a missing or invalid PORT exits 2 naming PORT")
    if os.environ.get("CHAT_TEST_VERBOSE") == "1":
        for child in children:
            print(child.output())


async def main():
    children = []
    try:
        await asyncio.wait_for(run(children), 60)
    except BaseException:
        for child in children:  # the processes' logs help to see what went wrong
            print(child.output(), file=sys.stderr)
        raise
    finally:
        for child in reversed(children):
            try:
                await child.stop()
            except Exception as error:
                print(f"cleanup of {child.name} failed: {error!r}", file=sys.stderr)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
    except asyncio.TimeoutError:
        print("FAIL: the test did not finish within 60 s", file=sys.stderr)
        sys.exit(1)
    print("PASS")

#!/usr/bin/python3
"""A small chat server, an example WebSocket app to run behind `wsscale server`.
Debian 12 packages only: python3-websockets 10.4 (legacy API), python3-redis 4.3.

Contract:
- Listens on HOST (env, default 127.0.0.1) and PORT (env, required; `--port N`
  wins). A missing or invalid port exits with status 2 and a message naming PORT.
- GET /health answers 200 `ok`. Any other GET that is not a WebSocket upgrade
  answers 404 (websockets 10.4 itself answers 400 to methods other than GET).
- WebSocket path /ws/{userId}; the user id comes from the path. An upgrade whose
  `X-WSScale-User-Id` header differs from the path's id is refused with 403.
  With CHAT_REFUSE_ALL=1 every upgrade is refused with 403 "refused by CHAT_REFUSE_ALL".
- A text frame with JSON {"to": "<userId>", "text": "...", "id": <optional>} is
  delivered to user `to`, on this instance or any other sharing the Redis, as a
  text frame {"from": "<sender>", "text": "...", "id": <only if the request had it>}.
  Every instance subscribes to the channel CHAT_CHANNEL (default wsscale-chat) on
  CHAT_REDIS_URL; each published message carries the target user id, and every
  instance delivers it to its own connection of that user. One connection per user
  per instance: the newest replaces the older (closed with 1000). Messages to a user
  connected nowhere are dropped. Without CHAT_REDIS_URL delivery is local only.
- Anything else (other text, binary) is echoed back unchanged, same frame type.
- On close it logs `closed user=<id> code=<code> reason=<reason>`, the close frame
  the app received (code=1006 when none came), so a shed (4001) is told apart.
- Logs go to stderr, one flushed line each. SIGTERM/SIGINT: close the listener and
  the connections (1001), exit 0 within 2 s.
"""
import argparse
import asyncio
import http
import json
import os
import signal
import sys
import urllib.parse

import websockets.exceptions
import websockets.server

REDIS_URL = os.environ.get("CHAT_REDIS_URL", "")
CHANNEL = os.environ.get("CHAT_CHANNEL", "wsscale-chat")
REFUSE_ALL = os.environ.get("CHAT_REFUSE_ALL") == "1"

connections = {}  # user id -> the newest WebSocket of that user on this instance
background = set()  # tasks kept alive until done


def log(line):
    print(line, file=sys.stderr, flush=True)


def spawn(coro):
    """Runs coro in the background; its errors (a send to a closed socket) are ignored."""
    task = asyncio.create_task(coro)
    background.add(task)
    task.add_done_callback(lambda t: background.discard(t) or t.cancelled() or t.exception())


def user_from_path(path):
    """The user id of `/ws/{userId}` (URL-decoded), or None for any other path."""
    path = path.split("?", 1)[0]
    if not path.startswith("/ws/"):
        return None
    user = urllib.parse.unquote(path[len("/ws/"):])
    return user if user and "/" not in user else None


def answer(status, text):
    return status, [("Content-Type", "text/plain"), ("Connection", "close")], text.encode()


async def process_request(path, headers):
    if path.split("?", 1)[0] == "/health":
        return answer(http.HTTPStatus.OK, "ok")
    user = user_from_path(path)
    upgrade = [v.lower() for v in headers.get_all("Upgrade")]
    if user is None or "websocket" not in upgrade:
        return answer(http.HTTPStatus.NOT_FOUND, "not found")
    if REFUSE_ALL:
        return answer(http.HTTPStatus.FORBIDDEN, "refused by CHAT_REFUSE_ALL")
    claimed = headers.get_all("X-WSScale-User-Id")
    if claimed and any(value != user for value in claimed):
        return answer(http.HTTPStatus.FORBIDDEN, "X-WSScale-User-Id does not match the path")
    return None


def chat_request(message):
    """The request of a chat text frame ({"to": str, "text": str, ...}), else None."""
    try:
        request = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        return None
    ok = isinstance(request, dict) and all(isinstance(request.get(k), str) for k in ("to", "text"))
    return request if ok else None


def deliver_locally(envelope):
    """Sends a published message to this instance's connection of its target, if any."""
    ws = connections.get(envelope.get("to"))
    if ws is not None:
        out = {key: envelope[key] for key in ("from", "text", "id") if key in envelope}
        spawn(ws.send(json.dumps(out)))


class Bus:
    """Redis pub/sub between instances, or local delivery when there is no Redis."""

    def __init__(self, url):
        self.redis, self.warned = None, False
        self.subscribed = asyncio.Event()
        if url:
            import redis.asyncio  # only needed with CHAT_REDIS_URL
            self.redis = redis.asyncio.from_url(url, socket_keepalive=True)

    async def publish(self, envelope):
        try:
            if self.redis is not None:
                return await self.redis.publish(CHANNEL, json.dumps(envelope))
        except Exception as error:  # Redis down: at least reach this instance's users
            log(f"publish failed ({error!r}); delivering locally only")
        deliver_locally(envelope)

    async def subscribe_forever(self):
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                log(f"subscribed channel={CHANNEL}")
                self.subscribed.set()
                self.warned = False
                async for message in pubsub.listen():
                    try:
                        deliver_locally(json.loads(message["data"]))
                    except (ValueError, TypeError, AttributeError):
                        log("ignored a malformed message on the channel")
            except Exception as error:  # logged once per outage, retried every second
                if self.subscribed.is_set() or not self.warned:
                    log(f"redis subscription lost ({error!r}); retrying every 1 s")
                self.warned = True
            finally:
                self.subscribed.clear()
                await asyncio.wait([asyncio.create_task(pubsub.reset())], timeout=0.5)
            await asyncio.sleep(1)


def handler_for(bus):
    async def handle(ws):
        user = user_from_path(ws.path)
        older = connections.get(user)
        connections[user] = ws
        if older is not None:
            spawn(older.close(1000, "replaced by a newer connection"))
        log(f"open user={user}")
        code, reason = 1006, "no close frame received"
        try:
            while True:
                message = await ws.recv()
                request = chat_request(message)
                if request is None:
                    await ws.send(message)  # not a chat message: echo, same frame type
                    continue
                envelope = {k: request[k] for k in ("to", "text", "id") if k in request}
                await bus.publish({**envelope, "from": user})
        except websockets.exceptions.ConnectionClosed as closed:
            if closed.rcvd is not None:
                code, reason = closed.rcvd.code, closed.rcvd.reason
        finally:
            if connections.get(user) is ws:
                del connections[user]
            log(f"closed user={user} code={code} reason={reason}")
    return handle


def parse_port():
    parser = argparse.ArgumentParser(description="wsscale example chat server")
    parser.add_argument("--port", help="TCP port to listen on (overrides PORT)")
    raw = parser.parse_args().port or os.environ.get("PORT", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        print(f"chat.py: PORT must be set to a TCP port 1-65535 (env PORT or --port), got {raw!r}",
              file=sys.stderr, flush=True)
        sys.exit(2)
    return int(raw)


async def main(host, port):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bus = Bus(REDIS_URL)
    subscriber = None
    if bus.redis is None:
        log("warning: CHAT_REDIS_URL is unset; messages reach users on this process only")
    else:
        subscriber = asyncio.create_task(bus.subscribe_forever())
        try:  # listen only once subscribed, unless Redis is unreachable for long
            await asyncio.wait_for(bus.subscribed.wait(), 3)
        except asyncio.TimeoutError:
            log("warning: not subscribed to redis yet; listening anyway")
    try:
        server = await websockets.server.serve(handler_for(bus), host, port,
                                               process_request=process_request, close_timeout=0.5)
    except OSError as error:
        log(f"cannot listen on {host}:{port}: {error}")
        return 1
    log(f"listening host={host} port={port} channel={CHANNEL if bus.redis else '-'}")
    await stop.wait()
    log("stopping")
    server.close()  # stops listening, closes connections with 1001
    try:
        await asyncio.wait_for(server.wait_closed(), 1.0)
    except asyncio.TimeoutError:
        log("some connections did not close in time")
    if subscriber is not None:
        subscriber.cancel()
        await asyncio.wait([subscriber], timeout=0.3)
        closing = asyncio.create_task(bus.redis.close(close_connection_pool=True))
        await asyncio.wait([closing], timeout=0.3)
    log("stopped")
    return 0


if __name__ == "__main__":
    listen_port = parse_port()
    sys.exit(asyncio.run(main(os.environ.get("HOST") or "127.0.0.1", listen_port)))

/// A tiny HTTP server used in place of `wsscale server` where a test needs a real process
/// that answers `/health` (the driver conformance suite, HAProxy tests).
///
/// It listens on `$SERVER_HOST:$SERVER_PORT` (Python 3, threads) and answers:
/// - `GET /health`: 200 with `$SERVER_ID`, or 503 after `GET /fail-health`;
/// - `GET /fail-health`: makes later `/health` answers 503;
/// - `GET /ws` with `Upgrade: websocket`: 101 Switching Protocols (with the
///   `Sec-WebSocket-Accept` HAProxy verifies), then holds the
///   connection open until the client closes it (like a WebSocket session);
/// - anything else: 404.
public enum StandInServer {
    /// The interpreter that runs it.
    public static let executable = "/usr/bin/python3"

    /// The arguments that run the server (`-c <script>`).
    public static var arguments: [String] { ["-c", script] }

    /// The server's source.
    public static let script = #"""
import base64, hashlib, http.server, os, socketserver

healthy = [True]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200 if healthy[0] else 503, os.environ.get("SERVER_ID", "").encode())
        elif self.path == "/fail-health":
            healthy[0] = False
            self.reply(200, b"ok")
        elif self.path.startswith("/api/v1/websocket/"):
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
            self.send_header("Sec-WebSocket-Accept", base64.b64encode(accept).decode())
            self.end_headers()
            self.wfile.flush()
            while self.connection.recv(4096):
                pass
            self.close_connection = True
        else:
            self.reply(404)

    def log_message(self, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

Server((os.environ.get("SERVER_HOST", "127.0.0.1"), int(os.environ["SERVER_PORT"])), Handler).serve_forever()
"""#
}

#!/usr/bin/env python3
"""Stand-in for the northern-care services during `scripts/demo`.

Under kwok no pod serves traffic, so the demo points the operator's http and tcp
checks (with `lifeline run --resolve HOST=IP`) at this stub: an HTTP server on
each HTTP port the playbook's checks use, answering 200 with a body that holds
every `bodyContains` string of the playbook, and a plain listener on each TCP
port. On a real cluster the checks reach the real services instead.

Usage: demo-stub.py ADDRESS PLAYBOOK_DIR
"""
import http.server
import pathlib
import re
import socket
import socketserver
import sys
import threading


def scan(playbook: pathlib.Path):
    http_ports, tcp_ports, needles = set(), set(), []
    for f in sorted(playbook.rglob("*.yaml")):
        text = f.read_text()
        for m in re.finditer(r"url:\s*https?://[^/:\s]+:(\d+)", text):
            http_ports.add(int(m.group(1)))
        for m in re.finditer(r"url:\s*http://[^/:\s]+/", text):
            http_ports.add(80)
        for m in re.finditer(r"tcp:\s*\n\s*host:\s*\S+\s*\n\s*port:\s*(\d+)", text):
            tcp_ports.add(int(m.group(1)))
        for m in re.finditer(r"bodyContains:\s*(.+)", text):
            value = m.group(1).strip()
            if value[:1] in "'\"" and value[-1:] == value[:1]:
                value = value[1:-1]
            needles.append(value)
    return http_ports, tcp_ports - http_ports, needles


def main():
    address, playbook = sys.argv[1], pathlib.Path(sys.argv[2])
    http_ports, tcp_ports, needles = scan(playbook)
    body = ("lifeline demo stub: " + " ".join(needles) + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    started = []
    for port in sorted(http_ports):
        try:
            srv = Server((address, port), Handler)
        except OSError as e:
            print(f"demo-stub: cannot serve HTTP on {address}:{port}: {e}", file=sys.stderr)
            continue
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        started.append(f"http:{port}")
    for port in sorted(tcp_ports):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            print(f"demo-stub: cannot listen on {address}:{port}: {e}", file=sys.stderr)
            continue
        s.listen(64)

        def accept(sock=s):
            while True:
                conn, _ = sock.accept()
                conn.close()

        threading.Thread(target=accept, daemon=True).start()
        started.append(f"tcp:{port}")
    print(f"demo-stub: listening on {address}: {', '.join(started)}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

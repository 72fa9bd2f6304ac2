#!/usr/bin/env python3
"""Application upstream of the differential suite (tests/differential.rs, docs/differential.md).

Runs two servers on 127.0.0.1, ports chosen by the kernel:

* the tee: what nginx proxies to. It reads each request as raw bytes (head + Content-Length
  body, which is what nginx sends upstream), sends the same bytes to every reader (the Python
  reader below, `php -S router.php`, `node reader.js`, the built `reader.go`), and answers
  one JSON object:
  {"seq": n, "filing": <icp-filing-number as received>, "nginx": {...}, "readers": {...}}.
  nginx's own reading arrives as `X-Diff-Nginx-*` headers set by its config.
* the Python reader: reads the request with the standard library's rules (urllib.parse,
  posixpath, json, email, cgi, zipfile, WSGI header naming) and answers its readings.

`GET /__diff_count` on the tee answers how many requests it has relayed, so the test can
tell "the upstream received nothing" from "the upstream refused it".

Usage: readers.py PHP_PORT NODE_PORT GO_PORT (0: that reader is not running). Prints one
JSON line {"tee": port, "python": port} on stdout once both sockets listen.
"""

import email.parser
import email.policy
import hashlib
import http.server
import io
import json
import posixpath
import socket
import socketserver
import struct
import sys
import threading
import urllib.parse
import warnings
import zipfile
import zlib

try:  # removed from the standard library in Python 3.13
    import cgi
except ImportError:
    cgi = None

warnings.simplefilter("ignore", DeprecationWarning)

# The variable names the suite's routes take an identifier from. A reading reports one of
# these names (dotted for nested JSON / bracketed form keys) with the value read.
ID_NAMES = ["appid", "pkg", "bundle", "package", "app.id", "x-app-id", "x-mp-appid"]
NGINX_PREFIX = "x-diff-nginx-"
MANIFEST = "AndroidManifest.xml"


def reading(via, name, value):
    return {"via": via, "name": name, "value": value}


def zip_readings(via, data):
    """What Python's zipfile and a front-to-back local-header walk take for the manifest."""
    out = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            man = z.read(MANIFEST)
        out.append(reading(via + " zipfile", "file", "sha256:" + hashlib.sha256(man).hexdigest()))
    except Exception as e:  # an unreadable package names no identifier
        out.append(reading(via + " zipfile", "file-error", str(e)[:120]))
    man = local_header_walk(data)
    if man is not None:
        out.append(
            reading(via + " local-headers", "file", "sha256:" + hashlib.sha256(man).hexdigest())
        )
    return out


def local_header_walk(data):
    """The first manifest a streaming reader (java.util.zip.ZipInputStream style) meets."""
    at = data.find(b"PK\x03\x04")
    while at >= 0 and at + 30 <= len(data) and data[at : at + 4] == b"PK\x03\x04":
        (_, _, flags, method, _, _, _, csize, _, nlen, xlen) = struct.unpack(
            "<IHHHHHIIIHH", data[at : at + 30]
        )
        name = data[at + 30 : at + 30 + nlen]
        start = at + 30 + nlen + xlen
        if flags & 8:  # sizes follow the data: not walkable without inflating blindly
            return None
        raw = data[start : start + csize]
        if name == MANIFEST.encode():
            try:
                return raw if method == 0 else zlib.decompress(raw, -15)
            except zlib.error:
                return None
        at = start + csize
    return None


def query_readings(query):
    out = []
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if k in ID_NAMES:
            out.append(reading("parse_qsl", k, v))
    # Legacy parsers (Python < 3.9.2, Perl CGI, many hand-written ones) split on ';' too.
    for k, v in urllib.parse.parse_qsl(query.replace(";", "&"), keep_blank_values=True):
        if k in ID_NAMES:
            out.append(reading("parse_qsl(&;)", k, v))
    return out


def nested_name(key):
    """`app[id]` -> `app.id` (Rack, PHP and qs bracket nesting)."""
    return key.replace("][", ".").replace("[", ".").rstrip("]")


def json_readings(via, obj):
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ID_NAMES and isinstance(v, str):
                out.append(reading(via, k, v))
        app = obj.get("app")
        if isinstance(app, dict) and isinstance(app.get("id"), str):
            out.append(reading(via, "app.id", app["id"]))
    return out


def multipart_readings(ctype, body):
    out = []
    # email: the RFC 2045/2046/2231 reader (name*=, folding, LF-only lines all accepted).
    try:
        msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
        )
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, tuple):
                name = email.utils.collapse_rfc2231_value(name)
            payload = part.get_payload(decode=True) or b""
            out += part_readings("email", name, part.get_filename(), payload)
    except Exception as e:
        out.append(reading("email", "error", str(e)[:120]))
    # cgi.FieldStorage: the reader behind many WSGI frameworks of the Python 2 era.
    if cgi is None:
        return out
    try:
        env = {
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": ctype,
            "CONTENT_LENGTH": str(len(body)),
        }
        fs = cgi.FieldStorage(fp=io.BytesIO(body), environ=env, keep_blank_values=True)
        for item in fs.list or []:
            value = item.value if isinstance(item.value, bytes) else item.value.encode()
            out += part_readings("cgi.FieldStorage", item.name, item.filename, value)
    except Exception as e:
        out.append(reading("cgi.FieldStorage", "error", str(e)[:120]))
    return out


def part_readings(via, name, filename, payload):
    if name == "file" or (filename and name == "file"):
        return zip_readings(via + " file", payload)
    if name is not None and nested_name(name) in ID_NAMES:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            text = payload.decode("latin-1")
        return [reading(via, nested_name(name), text)]
    return []


def body_readings(ctype, body):
    base = ctype.split(";", 1)[0].strip().lower()
    if base == "application/x-www-form-urlencoded":
        text = body.decode("latin-1")
        return [
            reading("form parse_qsl", nested_name(k), v)
            for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True)
            if nested_name(k) in ID_NAMES
        ]
    if base == "application/json" or base.endswith("+json"):
        try:
            return json_readings("json", json.loads(body))
        except ValueError as e:
            return [reading("json", "error", str(e)[:120])]
    if base == "multipart/form-data":
        return multipart_readings(ctype, body)
    if base in ("application/vnd.android.package-archive", "application/octet-stream", "application/zip"):
        return zip_readings("raw body", body)
    return []


class Reader(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def handle_one(self):
        split = urllib.parse.urlsplit(self.path)
        raw_path = split.path
        out = {
            "path": posixpath.normpath(urllib.parse.unquote(raw_path)) if raw_path else "/",
            "readings": query_readings(split.query),
        }
        # Headers as email.message.Message reads them (any case), and as WSGI/CGI name them
        # (`-` and `_` both become `_`, repeats joined with ',').
        environ = {}
        for k, v in self.headers.items():
            if k.lower().startswith(NGINX_PREFIX):
                continue
            key = "HTTP_" + k.replace("-", "_").upper()
            environ[key] = environ[key] + "," + v.strip() if key in environ else v.strip()
            if k.lower() in ID_NAMES:
                out["readings"].append(reading("headers", k.lower(), v.strip()))
        for name in ("x-app-id", "x-mp-appid"):
            key = "HTTP_" + name.replace("-", "_").upper()
            if key in environ:
                out["readings"].append(reading("WSGI environ", name, environ[key]))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        body_part = body_readings(ctype, body)
        out["readings"] += body_part
        # A framework's merged parameters (Laravel input(), Rails params): the body wins over
        # the query for the same name, whatever the method.
        merged = {}
        for r in out["readings"]:
            if r["via"] in ("parse_qsl",) and r["name"] not in merged:
                merged[r["name"]] = r["value"]
        for r in body_part:
            if r["via"] in ("form parse_qsl", "json"):
                merged[r["name"]] = r["value"]
        for k, v in merged.items():
            out["readings"].append(reading("merged params", k, v))
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = handle_one


def read_request(sock):
    """One HTTP/1.x request from `sock` as raw bytes (head + Content-Length body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf, {}
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers.setdefault(k.strip().lower().decode("latin-1"), v.strip().decode("latin-1"))
    need = int(headers.get("content-length") or 0)
    while len(rest) < need:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest, headers


def exchange(port, raw):
    """Sends `raw` to 127.0.0.1:port, reads the answer to EOF, returns its decoded JSON body."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return {"error": "exchange: " + str(e)}
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    try:
        return json.loads(body)
    except ValueError:
        return {"error": status + " " + body[:200].decode("latin-1")}


def dechunk(body):
    out = b""
    while body:
        line, _, body = body.partition(b"\r\n")
        n = int(line.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out, body = out + body[:n], body[n + 2 :]
    return out


class Tee(socketserver.BaseRequestHandler):
    lock = threading.Lock()
    seq = 0
    backends = {}

    def handle(self):
        raw, headers = read_request(self.request)
        first = raw.split(b"\r\n", 1)[0]
        if first.startswith(b"GET /__diff_count "):
            with Tee.lock:
                self.reply({"count": Tee.seq})
            return
        with Tee.lock:
            Tee.seq += 1
            seq = Tee.seq
        # The `Connection: close` nginx sends makes every reader close after answering.
        results = {}
        threads = [
            threading.Thread(target=lambda n=n, p=p: results.__setitem__(n, exchange(p, raw)))
            for n, p in Tee.backends.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        nginx = {"path": headers.get(NGINX_PREFIX + "uri", ""), "readings": []}
        for k, v in headers.items():
            if k.startswith(NGINX_PREFIX) and k != NGINX_PREFIX + "uri":
                var = "$" + k[len(NGINX_PREFIX) :].replace("-", "_")
                name = k[len(NGINX_PREFIX) :].split("-", 1)[1]
                # $arg_* is the raw query value; decoded as the application would use it.
                value = urllib.parse.unquote_plus(v) if var.startswith("$arg_") else v
                nginx["readings"].append(reading(var, name, value))
        self.reply(
            {
                "seq": seq,
                "filing": headers.get("icp-filing-number"),
                "nginx": nginx,
                "readers": results,
            }
        )

    def reply(self, obj):
        data = json.dumps(obj).encode()
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + b"Content-Length: "
            + str(len(data)).encode()
            + b"\r\n\r\n"
            + data
        )


class Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ThreadedHTTP(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    php_port, node_port, go_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    reader = ThreadedHTTP(("127.0.0.1", 0), Reader)
    Tee.backends = {"python": reader.server_address[1], "php": php_port}
    if node_port:
        Tee.backends["node"] = node_port
    if go_port:
        Tee.backends["go"] = go_port
    tee = Threaded(("127.0.0.1", 0), Tee)
    for server in (reader, tee):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"tee": tee.server_address[1], "python": reader.server_address[1]}), flush=True)
    # Lives until the test closes our stdin (or dies, which closes it too).
    sys.stdin.read()


if __name__ == "__main__":
    main()

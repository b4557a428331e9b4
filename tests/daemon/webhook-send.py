#!/usr/bin/env python3
"""Deliver webhooks to cloudsphered as the forges do, for tests/daemon/webhook.sh.

Usage:
  webhook-send.py one TARGET FORGE REPO SECRET EVENT FILE [DELIVERY [SIG]]
      one delivery signed over FILE's exact bytes ("-": stdin); SIG is
      "good" (default), "bad", "none" or "sha1" (GitHub's legacy header
      alone); prints the status code and the answer's body, and with
      WEBHOOK_TIMING set the seconds the exchange took on stderr
  webhook-send.py vectors TARGET CORPUS REPO_PREFIX
      every signature vector to REPO_PREFIX<index>; prints "ID CODE" lines
  webhook-send.py corpus TARGET CORPUS TABLE SECRET REPO_PREFIX LOG
      every delivery of TABLE (tests/webhook-corpus.txt) to
      REPO_PREFIX<forge>, then checks each one's status code and its log
      line in LOG; prints mismatches, exits 1 if any
  webhook-send.py big TARGET LENGTH
      announces a body of LENGTH bytes and prints the status line that
      comes back before any of it is sent
  webhook-send.py slow TARGET SECONDS
      opens a connection, sends half a request, and reports after how many
      seconds the daemon closed it (or "open" after SECONDS)

TARGET is tcp:PORT (127.0.0.1) or unix:PATH.
"""
import hashlib
import hmac
import http.client
import json
import os
import socket
import sys
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def connection(target, timeout=30):
    kind, _, where = target.partition(":")
    if kind == "unix":
        return UnixHTTPConnection(where, timeout)
    return http.client.HTTPConnection("127.0.0.1", int(where), timeout=timeout)


elapsed = 0.0


def post(target, path, headers, body):
    """The status and body of the answer; elapsed: seconds it took."""
    global elapsed
    c = connection(target)
    t0 = time.monotonic()
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    elapsed = time.monotonic() - t0
    c.close()
    return r.status, data.decode("utf-8", "replace")


def signed(forge, secret, event, body, delivery=None, sig="good"):
    """The headers a forge sends with body."""
    key = secret.encode()
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    if sig == "bad":
        mac = hmac.new(key + b"x", body, hashlib.sha256).hexdigest()
    h = {"Content-Type": "application/json"}
    if forge == "github":
        h["X-GitHub-Event"] = event
        if delivery:
            h["X-GitHub-Delivery"] = delivery
        if sig == "sha1":
            h["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
        elif sig != "none":
            h["X-Hub-Signature-256"] = "sha256=" + mac
    elif forge == "gitlab":
        h["X-Gitlab-Event"] = event
        if delivery:
            h["X-Gitlab-Event-UUID"] = delivery
        if sig != "none":
            h["X-Gitlab-Token"] = secret if sig == "good" else secret + "x"
    elif forge in ("gitea", "forgejo"):
        h["X-Gitea-Event"] = event
        if delivery:
            h["X-Gitea-Delivery"] = delivery
        if sig != "none":
            h["X-Gitea-Signature"] = mac
    elif forge in ("bitbucket", "bitbucket-server"):
        h["X-Event-Key"] = event
        if delivery:
            h["X-Request-UUID"] = delivery
        if sig != "none":
            h["X-Hub-Signature"] = "sha256=" + mac
    else:
        h["X-Cloudsphere-Event"] = event
        if delivery:
            h["X-Cloudsphere-Delivery"] = delivery
        if sig != "none":
            h["X-Cloudsphere-Signature"] = "sha256=" + mac
    return h


def cmd_one(target, forge, repo, secret, event, path, delivery=None, sig="good"):
    body = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    status, text = post(target, "/hooks/%s/%s" % (forge, repo),
                        signed(forge, secret, event, body, delivery, sig), body)
    print(status, text.strip())
    if os.environ.get("WEBHOOK_TIMING"):
        print("%.3f" % elapsed, file=sys.stderr)


def cmd_vectors(target, corpus, prefix):
    vectors = json.load(open(os.path.join(corpus, "signature-vectors/vectors.json")))
    for i, v in enumerate(vectors):
        body = open(os.path.join(corpus, v["payload_file"]), "rb").read()
        h = {"Content-Type": "application/json", v["header"]: v["header_value"]}
        h.update(v.get("extra_headers", {}))
        forge = v["forge"]
        status, _ = post(target, "/hooks/%s/%s%d" % (forge, prefix, i), h, body)
        print(v["id"], v["expect"], status)


def describe(row):
    forge, event, path, kind, action, ref, after, pull, head = row
    if kind in ("push", "push-delete", "tag"):
        return "%s %s %s" % (kind, ref, after)
    if kind == "pull":
        return "pull %s %s %s " % (pull, action, head)
    return kind


def cmd_corpus(target, corpus, table, secret, prefix, log):
    rows = [l.split() for l in open(table) if l.strip() and not l.startswith("#")]
    bad = []
    for n, row in enumerate(rows):
        forge, event, path = row[0], row[1].replace("+", " "), row[2]
        body = open(os.path.join(corpus, path), "rb").read()
        delivery = "corpus-%d" % n
        status, text = post(target, "/hooks/%s/%s%s" % (forge, prefix, forge),
                            signed(forge, secret, event, body, delivery), body)
        want = 400 if row[3] == "invalid" else 202
        if status != want:
            bad.append("%s: %d %s (expected %d)" % (path, status, text.strip(), want))
        if secret in text:
            bad.append("%s: the answer holds the secret" % path)
    time.sleep(0.5)
    lines = open(log, encoding="utf-8", errors="replace").read().splitlines()
    for n, row in enumerate(rows):
        if row[3] == "invalid":
            continue
        tag = "delivery corpus-%d: " % n
        got = [l for l in lines if tag in l]
        want = tag + describe(row)
        if len(got) != 1 or want not in got[0]:
            bad.append("%s: logged %r, expected %r" % (row[2], got, want))
    for b in bad:
        print(b)
    print("%d deliveries, %d wrong" % (len(rows), len(bad)))
    sys.exit(1 if bad else 0)


def cmd_slow(target, seconds):
    kind, _, where = target.partition(":")
    s = socket.create_connection(("127.0.0.1", int(where)))
    t0 = time.monotonic()
    s.sendall(b"POST /hooks/github/infra HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 100\r\n\r\n{\"zen\":")
    s.settimeout(float(seconds))
    try:
        while s.recv(4096):
            pass
        print("%.1f" % (time.monotonic() - t0))
    except socket.timeout:
        print("open")
    except ConnectionResetError:
        print("%.1f" % (time.monotonic() - t0))


def cmd_big(target, length):
    """Headers announcing length bytes, no body: the answer comes first."""
    kind, _, where = target.partition(":")
    s = socket.create_connection(("127.0.0.1", int(where)), timeout=10)
    s.sendall(b"POST /hooks/github/infra HTTP/1.1\r\nHost: x\r\n"
              b"X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
              b"Content-Length: %d\r\n\r\n" % int(length))
    print(s.recv(4096).split(b"\r\n")[0].decode())


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"one": cmd_one, "vectors": cmd_vectors, "corpus": cmd_corpus,
     "slow": cmd_slow, "big": cmd_big}[cmd](*args)


if __name__ == "__main__":
    main()

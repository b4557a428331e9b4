#!/usr/bin/env python3
"""A TEST DOUBLE of the forges' REST APIs (commit statuses and pull-request
comments) for the integration tests of cloudsphered's reporter.

Why a double: GitHub's, GitLab's, Gitea's and Bitbucket's APIs cannot run
here (no network, no forge server packaged in Debian that the tests could
start).  So this server plays each of them on 127.0.0.1: it checks every
request against the forge's documented contract (method, path, auth header
form, content type, JSON body: ../shared/corpus/CONTRACTS.md section 3 and
the octokit endpoint docs), answers with the corpus's real response bodies,
read at start and sent byte for byte, and records every request as one JSON
line for the test to read.  It can be told to fail: 500 for the next N
requests, GitHub's 422 for a too long description, slow answers, dropped
connections, Retry-After and exhausted rate limits.

Usage:
  forge-double.py --corpus DIR --record FILE --port-file FILE
                  [--forge KIND] [--token TOKEN] [--project P]
                  [--fail N] [--fail-status CODE] [--retry-after VALUE]
                  [--slow SECONDS] [--slow-count N] [--drop N]
                  [--rate-limit N] [--rate-reset SECONDS] [--reject-422 N]
                  [--match TEXT]

KIND is github, gitlab, gitea, forgejo, bitbucket or bitbucket-server.
Without --forge, the first path segment names it: an api_url of
http://127.0.0.1:PORT/gitlab/api/v4 plays GitLab.  Paths are then the
forge's own: /repos/... (GitHub, api.github.com), /api/v4/... (GitLab),
/api/v1/... (Gitea, Forgejo), /2.0/... (Bitbucket Cloud), /rest/...
(Bitbucket Server).

Control (not a forge path): POST /_double/control with a JSON object of
the same knobs as the flags ({"fail": 3, "fail_status": 503,
"retry_after": "2", "slow": 5, "slow_count": 1, "drop": 1,
"rate_limit": 1, "rate_reset": 2, "reject_422": 1, "gone": 1 (404 to
comment edits, as if deleted), "match": SHA}: faults apply only to paths
containing match); GET /_double/requests
returns the record as a JSON array.

Each record line: {"n", "time", "forge", "method", "path", "query",
"headers" (lower-case names; the token replaced by "<token>" when it is
the expected one), "body" (parsed JSON, or the raw text), "answer" (the
status sent, or "dropped"), "violations" (what broke the contract; empty
when the request was right), "kind" (status, comment-create,
comment-edit, or null)}.
"""
import argparse
import email.utils
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORGES = ("github", "gitlab", "gitea", "forgejo", "bitbucket",
          "bitbucket-server")

# Reconstructed from CONTRACTS.md section 3, which quotes GitHub's answer to
# a description over 140 characters (the corpus has no file of it); the
# documentation_url is the one octokit's createCommitStatus doc links to.
GITHUB_422_DESCRIPTION = (
    b'{"message":"Validation Failed","errors":[{"resource":"Status",'
    b'"code":"custom","field":"description","message":"description is too'
    b' long (maximum is 140 characters)"}],"documentation_url":'
    b'"https://docs.github.com/rest/commits/statuses#create-a-commit-status"}')
# Same shape, for a comment body over 65536 characters (CONTRACTS.md).
GITHUB_422_BODY = (
    b'{"message":"Validation Failed","errors":[{"resource":"IssueComment",'
    b'"code":"unprocessable","field":"data","message":"Body is too long'
    b' (maximum is 65536 characters)"}],"documentation_url":'
    b'"https://docs.github.com/rest/issues/comments#create-an-issue-comment"}')

# Limits the double enforces (CONTRACTS.md section 3; the reporter keeps to
# these or to stricter ones).
LIMITS = {
    "github": {"description": 140, "comment": 65536},
    "bitbucket-server": {"comment": 32768},
}

STATES = {
    "github": {"error", "failure", "pending", "success"},
    "gitlab": {"pending", "running", "success", "failed", "canceled",
               "skipped"},
    "gitea": {"pending", "success", "error", "failure", "warning"},
    "bitbucket": {"INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"},
    "bitbucket-server": {"INPROGRESS", "SUCCESSFUL", "FAILED"},
}
STATES["forgejo"] = STATES["gitea"]


def load(corpus, rel):
    with open(os.path.join(corpus, rel), "rb") as f:
        return f.read()


class Double:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.n = 0
        self.record = open(args.record, "a", encoding="utf-8")
        self.knobs = {
            "fail": args.fail, "fail_status": args.fail_status,
            "retry_after": args.retry_after, "slow": args.slow,
            "slow_count": args.slow_count, "drop": args.drop,
            "rate_limit": args.rate_limit, "rate_reset": args.rate_reset,
            "reject_422": args.reject_422, "match": args.match,
            "gone": args.gone,
        }
        c = args.corpus
        octokit = json.loads(load(c, "github/rest-api/octokit-fixtures/"
                                  "create-status.normalized-fixture.json"))
        created = octokit[0]
        # The real recorded create-status answer, as GitHub sent it
        # (compact JSON; the fixture stores it parsed).
        self.github_status = json.dumps(
            created["response"], separators=(",", ":")).encode()
        self.github_status_headers = {
            k: str(v) for k, v in created["headers"].items()
            if k in ("location", "x-ratelimit-limit", "x-ratelimit-remaining",
                     "x-ratelimit-resource", "x-ratelimit-used",
                     "x-github-media-type")}
        self.bodies = {
            "github-comment": load(c, "go-scm/github/api/issue_comment.json"),
            "gitlab-status": load(c, "go-scm/gitlab/api/status.json"),
            "gitlab-note": load(c, "go-scm/gitlab/api/merge_note.json"),
            "gitea-status": load(c, "go-scm/gitea/api/status.json"),
            "gitea-comment": load(c, "go-scm/gitea/api/comment.json"),
            "bitbucket-status": load(c, "go-scm/bitbucket/api/status.json"),
            "bitbucket-comment": load(c, "go-scm/bitbucket/api/prcomment.json"),
            "stash-comment": load(c, "go-scm/stash/api/pr_comment.json"),
        }
        # Comment ids the corpus answers carry: edits must name them.
        self.ids = {
            "github": str(json.loads(self.bodies["github-comment"])["id"]),
            "gitlab": str(json.loads(self.bodies["gitlab-note"])["id"]),
            "gitea": str(json.loads(self.bodies["gitea-comment"])["id"]),
            "bitbucket": str(json.loads(self.bodies["bitbucket-comment"])["id"]),
            "bitbucket-server": str(json.loads(self.bodies["stash-comment"])["id"]),
        }
        self.ids["forgejo"] = self.ids["gitea"]
        self.stash_version = {}

    def take(self, knob, path=""):
        """Consume one unit of a counted fault; True if it applies."""
        with self.lock:
            match = self.knobs.get("match")
            if match and match not in path:
                return False
            if self.knobs.get(knob, 0) > 0:
                self.knobs[knob] -= 1
                return True
            return False

    def log(self, entry):
        with self.lock:
            self.n += 1
            entry["n"] = self.n
            self.record.write(json.dumps(entry, sort_keys=True) + "\n")
            self.record.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "forge-double/1"

    def log_message(self, fmt, *args):
        if self.server.double.args.verbose:
            sys.stderr.write(fmt % args + "\n")

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    # Answers -------------------------------------------------------------

    def answer(self, status, body=b"", headers=None, ctype="application/json; charset=utf-8"):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.entry["answer"] = status

    def drop(self):
        self.entry["answer"] = "dropped"
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # Request handling ----------------------------------------------------

    def handle_any(self):
        d = self.server.double
        raw_path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if raw_path.startswith("/_double/"):
            return self.control(raw_path, body)

        forge = d.args.forge
        path = raw_path
        m = re.match(r"^/(github|gitlab|gitea|forgejo|bitbucket-server|"
                     r"bitbucket)(/.*)$", raw_path)
        if m and (forge is None or forge == m.group(1)):
            forge, path = m.group(1), m.group(2)
        headers = {k.lower(): v for k, v in self.headers.items()}
        token = d.args.token
        shown = {}
        for k, v in headers.items():
            shown[k] = v.replace(token, "<token>") if token else v
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        self.entry = {
            "time": time.time(), "forge": forge, "method": self.command,
            "path": path, "query": query, "headers": shown, "body": parsed,
            "violations": [], "kind": None,
        }
        try:
            self.dispatch(d, forge, path, headers, body, parsed)
        finally:
            d.log(self.entry)

    def control(self, path, body):
        d = self.server.double
        self.entry = {}
        if path == "/_double/control" and self.command == "POST":
            try:
                knobs = json.loads(body or b"{}")
            except ValueError:
                return self.answer(400, b'{"error":"not JSON"}')
            with d.lock:
                for k, v in knobs.items():
                    if k not in d.knobs:
                        return self.answer(400, b'{"error":"unknown knob"}')
                    d.knobs[k] = v
                out = json.dumps(d.knobs).encode()
            return self.answer(200, out)
        if path == "/_double/requests" and self.command == "GET":
            with d.lock:
                d.record.flush()
            with open(d.args.record, "rb") as f:
                lines = [json.loads(x) for x in f if x.strip()]
            return self.answer(200, json.dumps(lines).encode())
        return self.answer(404, b'{"error":"no such control"}')

    def violation(self, what):
        self.entry["violations"].append(what)

    def check_common(self, forge, headers, parsed, body):
        d = self.server.double
        token = d.args.token
        auth = headers.get("authorization", "")
        if forge == "github":
            forms = ["token " + token, "Bearer " + token]
            if auth not in forms:
                self.violation("authorization: want 'token T' or 'Bearer T'")
            if "application/vnd.github" not in headers.get("accept", ""):
                self.violation("accept: want application/vnd.github+json")
            if not headers.get("user-agent"):
                self.violation("user-agent: GitHub refuses requests without one")
        elif forge == "gitlab":
            if headers.get("private-token") != token and \
                    auth != "Bearer " + token:
                self.violation("want PRIVATE-TOKEN: T or Authorization: Bearer T")
        elif forge in ("gitea", "forgejo"):
            if auth != "token " + token:
                self.violation("authorization: want 'token T'")
        else:
            if auth != "Bearer " + token:
                self.violation("authorization: want 'Bearer T'")
        if self.command in ("POST", "PUT", "PATCH"):
            ctype = headers.get("content-type", "")
            if ctype.split(";")[0].strip() != "application/json":
                self.violation("content-type: want application/json")
            if not isinstance(parsed, dict):
                self.violation("body: want a JSON object")
                return False
        return True

    def check_fields(self, parsed, required, optional, types=None):
        for k in required:
            if k not in parsed:
                self.violation("body: missing %s" % k)
        for k in parsed:
            if k not in required and k not in optional:
                self.violation("body: unknown field %s" % k)
        for k, v in parsed.items():
            if v is not None and not isinstance(v, (types or {}).get(k, str)):
                self.violation("body: %s has the wrong type" % k)

    def dispatch(self, d, forge, path, headers, body, parsed):
        if forge not in FORGES:
            self.violation("no forge for this path")
            return self.answer(404, b'{"message":"Not Found"}')
        # Faults first: they stand for the forge being unwell.
        if d.take("drop", path):
            return self.drop()
        if d.take("slow_count", path):
            time.sleep(float(d.knobs.get("slow") or 0))
        if d.take("fail", path):
            h = {}
            if d.knobs.get("retry_after"):
                h["Retry-After"] = str(d.knobs["retry_after"])
            return self.answer(int(d.knobs.get("fail_status") or 500),
                               b'{"message":"Server Error"}', h)
        if d.take("rate_limit", path):
            reset = int(time.time() + float(d.knobs.get("rate_reset") or 1))
            if forge == "gitlab":
                h = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}
                return self.answer(429, b'{"message":"Retry later"}', h)
            h = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(reset)}
            return self.answer(403, b'{"message":"API rate limit exceeded",'
                               b'"documentation_url":"https://docs.github.com/'
                               b'rest/overview/resources-in-the-rest-api#rate-limiting"}', h)

        if self.command in ("PATCH", "PUT") and d.take("gone", path):
            # Someone deleted the comment on the forge.
            self.entry["kind"] = "comment-edit"
            return self.answer(404, b'{"message":"Not Found"}')

        ok = self.check_common(forge, headers, parsed, body)
        route = getattr(self, "route_" + forge.replace("-", "_"))
        if ok:
            route(d, path, parsed)
        else:
            self.answer(400, b'{"message":"Problems parsing JSON"}')

    def project(self, got, forge):
        want = self.server.double.args.project
        if want is not None and got != want:
            self.violation("project: got %s, want %s" % (got, want))

    # GitHub: api.github.com -----------------------------------------------

    def route_github(self, d, path, b):
        m = re.match(r"^/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})$", path)
        if m and self.command == "POST":
            self.entry["kind"] = "status"
            self.project(m.group(1) + "/" + m.group(2), "github")
            self.check_fields(b, ["state"], ["target_url", "description",
                                             "context"])
            if b.get("state") not in STATES["github"]:
                self.violation("state: %r" % b.get("state"))
            desc = b.get("description") or ""
            if len(desc) > LIMITS["github"]["description"] or \
                    d.take("reject_422", path):
                return self.answer(422, GITHUB_422_DESCRIPTION)
            return self.reply(201, d.github_status, d.github_status_headers)
        m = re.match(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$", path)
        if m and self.command == "POST":
            self.entry["kind"] = "comment-create"
            self.project(m.group(1) + "/" + m.group(2), "github")
            return self.comment_github(d, b, 201)
        m = re.match(r"^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$", path)
        if m and self.command == "PATCH":
            self.entry["kind"] = "comment-edit"
            self.project(m.group(1) + "/" + m.group(2), "github")
            if m.group(3) != d.ids["github"]:
                return self.answer(404, b'{"message":"Not Found"}')
            return self.comment_github(d, b, 200)
        self.violation("no such GitHub endpoint: %s %s" % (self.command, path))
        return self.answer(404, b'{"message":"Not Found"}')

    def comment_github(self, d, b, status):
        self.check_fields(b, ["body"], [])
        if len(b.get("body") or "") > LIMITS["github"]["comment"] or \
                d.take("reject_422", self.entry["path"]):
            return self.answer(422, GITHUB_422_BODY)
        return self.reply(status, d.bodies["github-comment"])

    # GitLab: /api/v4 ------------------------------------------------------

    def gitlab_project(self, enc):
        # The project path must arrive URL-encoded: group%2Fproject.
        if "/" in urllib.parse.unquote(enc) and "%2F" not in enc.upper():
            self.violation("project id not URL-encoded")
        self.project(urllib.parse.unquote(enc), "gitlab")

    def route_gitlab(self, d, path, b):
        m = re.match(r"^/api/v4/projects/([^/]+)/statuses/([0-9a-f]{40})$",
                     path)
        if m and self.command == "POST":
            self.entry["kind"] = "status"
            self.gitlab_project(m.group(1))
            self.check_fields(b, ["state"], ["ref", "name", "context",
                                             "target_url", "description",
                                             "coverage", "pipeline_id"],
                              {"coverage": (int, float), "pipeline_id": int})
            if b.get("state") not in STATES["gitlab"]:
                self.violation("state: %r" % b.get("state"))
            return self.reply(201, d.bodies["gitlab-status"])
        m = re.match(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes"
                     r"(?:/(\d+))?$", path)
        if m and (self.command == "POST" and m.group(3) is None or
                  self.command == "PUT" and m.group(3) is not None):
            self.gitlab_project(m.group(1))
            self.check_fields(b, ["body"], [])
            if m.group(3) is None:
                self.entry["kind"] = "comment-create"
                return self.reply(201, d.bodies["gitlab-note"])
            self.entry["kind"] = "comment-edit"
            if m.group(3) != d.ids["gitlab"]:
                return self.answer(404, b'{"message":"404 Not found"}')
            return self.reply(200, d.bodies["gitlab-note"])
        self.violation("no such GitLab endpoint: %s %s" % (self.command, path))
        return self.answer(404, b'{"message":"404 Not found"}')

    # Gitea and Forgejo: /api/v1 -------------------------------------------

    def route_gitea(self, d, path, b, forge="gitea"):
        m = re.match(r"^/api/v1/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})$",
                     path)
        if m and self.command == "POST":
            self.entry["kind"] = "status"
            self.project(m.group(1) + "/" + m.group(2), forge)
            self.check_fields(b, ["state"], ["target_url", "description",
                                             "context"])
            if b.get("state") not in STATES[forge]:
                self.violation("state: %r" % b.get("state"))
            return self.reply(201, d.bodies["gitea-status"])
        m = re.match(r"^/api/v1/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$",
                     path)
        if m and self.command == "POST":
            self.entry["kind"] = "comment-create"
            self.project(m.group(1) + "/" + m.group(2), forge)
            self.check_fields(b, ["body"], [])
            return self.reply(201, d.bodies["gitea-comment"])
        m = re.match(r"^/api/v1/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$",
                     path)
        if m and self.command == "PATCH":
            self.entry["kind"] = "comment-edit"
            self.project(m.group(1) + "/" + m.group(2), forge)
            self.check_fields(b, ["body"], [])
            if m.group(3) != d.ids[forge]:
                return self.answer(404, b'{"message":"Not Found"}')
            return self.reply(200, d.bodies["gitea-comment"])
        self.violation("no such Gitea endpoint: %s %s" % (self.command, path))
        return self.answer(404, b'{"message":"Not Found"}')

    def route_forgejo(self, d, path, b):
        return self.route_gitea(d, path, b, "forgejo")

    # Bitbucket Cloud: api.bitbucket.org/2.0 -------------------------------

    def route_bitbucket(self, d, path, b):
        m = re.match(r"^/2\.0/repositories/([^/]+)/([^/]+)/commit/"
                     r"([0-9a-f]{40})/statuses/build$", path)
        if m and self.command == "POST":
            self.entry["kind"] = "status"
            self.project(m.group(1) + "/" + m.group(2), "bitbucket")
            self.check_fields(b, ["key", "state", "url"],
                              ["name", "description", "refname"])
            if b.get("state") not in STATES["bitbucket"]:
                self.violation("state: %r" % b.get("state"))
            return self.reply(201, d.bodies["bitbucket-status"])
        m = re.match(r"^/2\.0/repositories/([^/]+)/([^/]+)/pullrequests/(\d+)"
                     r"/comments(?:/(\d+))?$", path)
        if m and (self.command == "POST" and m.group(4) is None or
                  self.command == "PUT" and m.group(4) is not None):
            self.project(m.group(1) + "/" + m.group(2), "bitbucket")
            self.check_fields(b, ["content"], [], {"content": dict})
            c = b.get("content")
            if not isinstance(c, dict) or not isinstance(c.get("raw"), str) \
                    or set(c) != {"raw"}:
                self.violation("content: want {\"raw\": TEXT}")
            if m.group(4) is None:
                self.entry["kind"] = "comment-create"
                return self.reply(201, d.bodies["bitbucket-comment"])
            self.entry["kind"] = "comment-edit"
            if m.group(4) != d.ids["bitbucket"]:
                return self.answer(404, b'{"type":"error","error":'
                                   b'{"message":"Comment not found"}}')
            return self.reply(200, d.bodies["bitbucket-comment"])
        self.violation("no such Bitbucket endpoint: %s %s" % (self.command, path))
        return self.answer(404, b'{"type":"error","error":{"message":"Not found"}}')

    # Bitbucket Server / Data Center ---------------------------------------

    def route_bitbucket_server(self, d, path, b):
        m = re.match(r"^/rest/build-status/1\.0/commits/([0-9a-f]{40})$", path)
        if m and self.command == "POST":
            self.entry["kind"] = "status"
            self.check_fields(b, ["state", "key", "url"],
                              ["name", "description"])
            if b.get("state") not in STATES["bitbucket-server"]:
                self.violation("state: %r" % b.get("state"))
            return self.reply(204, b"")
        m = re.match(r"^/rest/api/1\.0/projects/([^/]+)/repos/([^/]+)/"
                     r"pull-requests/(\d+)/comments(?:/(\d+))?$", path)
        if m and (self.command == "POST" and m.group(4) is None or
                  self.command == "PUT" and m.group(4) is not None):
            self.project(m.group(1) + "/" + m.group(2), "bitbucket-server")
            text = b.get("text") or ""
            if len(text) > LIMITS["bitbucket-server"]["comment"]:
                self.violation("text: over 32768 characters")
            if m.group(4) is None:
                self.entry["kind"] = "comment-create"
                self.check_fields(b, ["text"], [])
                d.stash_version[d.ids["bitbucket-server"]] = 0
                return self.reply(201, d.bodies["stash-comment"])
            self.entry["kind"] = "comment-edit"
            self.check_fields(b, ["text", "version"], [], {"version": int})
            cid = m.group(4)
            if cid not in d.stash_version:
                return self.answer(404, b'{"errors":[{"message":'
                                   b'"No comment exists with ID ' +
                                   cid.encode() + b'."}]}')
            if b.get("version") != d.stash_version[cid]:
                return self.answer(409, b'{"errors":[{"message":'
                                   b'"You are attempting to modify a comment'
                                   b' based on out-of-date information."}]}')
            d.stash_version[cid] += 1
            out = json.loads(d.bodies["stash-comment"])
            out["version"] = d.stash_version[cid]
            out["text"] = text
            return self.reply(200, json.dumps(out).encode())
        self.violation("no such Bitbucket Server endpoint: %s %s" %
                       (self.command, path))
        return self.answer(404, b'{"errors":[{"message":"Not found"}]}')

    def reply(self, status, body, headers=None):
        if self.entry["violations"]:
            # The real forges answer a malformed request with 4xx too.
            return self.answer(422 if self.entry["forge"] != "bitbucket-server"
                               else 400, json.dumps(
                                   {"message": "forge-double: contract",
                                    "violations": self.entry["violations"]}
                               ).encode())
        return self.answer(status, body, headers)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--forge", choices=FORGES)
    p.add_argument("--token", default="")
    p.add_argument("--project")
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=500)
    p.add_argument("--retry-after")
    p.add_argument("--slow", type=float, default=0)
    p.add_argument("--slow-count", type=int, default=0)
    p.add_argument("--drop", type=int, default=0)
    p.add_argument("--rate-limit", type=int, default=0)
    p.add_argument("--rate-reset", type=float, default=1)
    p.add_argument("--reject-422", type=int, default=0)
    p.add_argument("--match", help="faults only for paths containing this")
    p.add_argument("--gone", type=int, default=0,
                   help="answer 404 to the next N comment edits")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.double = Double(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()

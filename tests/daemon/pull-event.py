#!/usr/bin/env python3
"""Send a GitHub pull_request webhook to cloudsphered, as GitHub would.

The body is a real delivery from the corpus (octokit's recorded
pull_request payloads) with the fields this test controls filled in: the
action, the number, the head commit and branch, the base branch, whether
the head is in a fork, whether a close merged it.  It is signed the way
GitHub signs (X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body)) and
POSTed to the daemon's real endpoint.  Prints the HTTP status.

Usage: pull-event.py URL SECRET_FILE CORPUS ACTION NUMBER SHA HEAD_REF
                     BASE_REF [fork] [merged]
ACTION is opened, synchronize, reopened or closed.
"""
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
import uuid


def main():
    url, secret_file, corpus, action, number, sha, head_ref, base_ref = \
        sys.argv[1:9]
    flags = sys.argv[9:]
    name = {"opened": "pull_request_opened", "reopened":
            "pull_request_reopened", "synchronize":
            "pull_request_synchronize", "closed":
            "pull_request_closed"}[action]
    with open("%s/github/webhooks/octokit/%s.payload.json" % (corpus, name),
              "rb") as f:
        d = json.load(f)
    pr = d["pull_request"]
    d["action"] = action
    d["number"] = int(number)
    pr["number"] = int(number)
    pr["head"]["sha"] = sha
    pr["head"]["ref"] = head_ref
    pr["base"]["ref"] = base_ref
    if "fork" in flags:
        repo = json.loads(json.dumps(pr["head"]["repo"]))
        repo["id"] = repo["id"] + 1000
        repo["full_name"] = "someone-else/" + repo["name"]
        repo["fork"] = True
        pr["head"]["repo"] = repo
    else:
        pr["head"]["repo"] = json.loads(json.dumps(pr["base"]["repo"]))
    if action == "closed":
        pr["state"] = "closed"
        pr["merged"] = "merged" in flags
    if action == "synchronize":
        d["after"] = sha
    body = json.dumps(d).encode()
    with open(secret_file, "rb") as f:
        secret = f.read().split(b"\n")[0]
    sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/cloudsphere-test",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + sig,
    })
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            print(r.status)
    except urllib.error.HTTPError as e:
        print(e.code)


if __name__ == "__main__":
    main()

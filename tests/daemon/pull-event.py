#!/usr/bin/env python3
"""Send a pull-request webhook to cloudsphered, as the forge would.

The body is a real delivery from the corpus (octokit's recorded GitHub
pull_request payloads, go-scm's GitLab merge request and Bitbucket Server
pull request ones) with the fields this test controls filled in: the
action, the number, the head commit and branch, the base branch, whether
the head is in a fork, whether a close merged it.  It is signed or carries
the token the way the forge does (GitHub: X-Hub-Signature-256, Bitbucket
Cloud and Server: X-Hub-Signature, sha256=HMAC-SHA256(secret, body); GitLab:
X-Gitlab-Token) and is POSTed to the daemon's real endpoint.  Prints the
HTTP status.

Usage: pull-event.py [--forge F] URL SECRET_FILE CORPUS ACTION NUMBER SHA
                     HEAD_REF BASE_REF [fork] [merged]
F is github (the default), gitlab, bitbucket-server or bitbucket (Cloud:
the head abbreviated as it sends it); ACTION is opened,
synchronize, reopened or closed.
"""
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
import uuid


def gitlab(corpus, action, number, sha, head_ref, base_ref, flags):
    name = {"opened": "pull_request_create", "reopened":
            "pull_request_reopen", "synchronize": "pull_request_create",
            "closed": "pull_request_merge" if "merged" in flags else
            "pull_request_close"}[action]
    with open("%s/go-scm/gitlab/webhooks/%s.json" % (corpus, name)) as f:
        d = json.load(f)
    oa = d["object_attributes"]
    oa["iid"] = int(number)
    oa["action"] = {"opened": "open", "reopened": "reopen", "synchronize":
                    "update", "closed": "merge" if "merged" in flags else
                    "close"}[action]
    if action == "synchronize":
        oa["oldrev"] = "0" * 40
    oa["last_commit"]["id"] = sha
    oa["source_branch"] = head_ref
    oa["target_branch"] = base_ref
    if "fork" in flags:
        oa["source_project_id"] = oa["target_project_id"] + 1000
    else:
        oa["source_project_id"] = oa["target_project_id"]
    return d, {"X-Gitlab-Event": "Merge Request Hook",
               "X-Gitlab-Event-UUID": str(uuid.uuid4())}


def stash(corpus, action, number, sha, head_ref, base_ref, flags):
    key, name = {"opened": ("pr:opened", "pr_open"),
                 "reopened": ("pr:opened", "pr_open"),
                 "synchronize": ("pr:from_ref_updated",
                                 "pr_from_ref_updated"),
                 "closed": ("pr:merged", "pr_merged") if "merged" in flags
                 else ("pr:declined", "pr_declined")}[action]
    with open("%s/go-scm/stash/webhooks/%s.json" % (corpus, name)) as f:
        d = json.load(f)
    pr = d["pullRequest"]
    pr["id"] = int(number)
    pr["fromRef"]["latestCommit"] = sha
    pr["fromRef"]["displayId"] = head_ref
    pr["fromRef"]["id"] = "refs/heads/" + head_ref
    pr["toRef"]["displayId"] = base_ref
    pr["toRef"]["id"] = "refs/heads/" + base_ref
    repo = json.loads(json.dumps(pr["toRef"]["repository"]))
    if "fork" in flags:
        repo["id"] = repo["id"] + 1000
    pr["fromRef"]["repository"] = repo
    return d, {"X-Event-Key": key, "X-Request-Id": str(uuid.uuid4())}


def bitbucket(corpus, action, number, sha, head_ref, base_ref, flags):
    key, name = {"opened": ("pullrequest:created", "pr_created"),
                 "reopened": ("pullrequest:created", "pr_created"),
                 "synchronize": ("pullrequest:updated", "pr_updated"),
                 "closed": ("pullrequest:fulfilled", "pr_fulfilled")
                 if "merged" in flags else
                 ("pullrequest:rejected", "pr_declined")}[action]
    with open("%s/go-scm/bitbucket/webhooks/%s.json" % (corpus, name)) as f:
        d = json.load(f)
    pr = d["pullrequest"]
    pr["id"] = int(number)
    # Bitbucket Cloud announces abbreviated commit ids (12 digits).
    pr["source"]["commit"]["hash"] = sha[:12]
    pr["source"]["branch"]["name"] = head_ref
    pr["destination"]["branch"]["name"] = base_ref
    repo = json.loads(json.dumps(pr["destination"]["repository"]))
    if "fork" in flags:
        repo["uuid"] = "{00000000-0000-0000-0000-000000000001}"
    pr["source"]["repository"] = repo
    return d, {"X-Event-Key": key, "X-Request-UUID": str(uuid.uuid4()),
               "X-Hook-UUID": str(uuid.uuid4())}


def send(url, headers, body):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            print(r.status)
    except urllib.error.HTTPError as e:
        print(e.code)


def main():
    forge = "github"
    args = sys.argv[1:]
    if args[0] == "--forge":
        forge, args = args[1], args[2:]
    url, secret_file, corpus, action, number, sha, head_ref, base_ref = \
        args[0:8]
    flags = args[8:]
    with open(secret_file, "rb") as f:
        secret = f.read().split(b"\n")[0]
    if forge in ("gitlab", "bitbucket-server", "bitbucket"):
        d, headers = {"gitlab": gitlab, "bitbucket-server": stash,
                      "bitbucket": bitbucket}[forge](
            corpus, action, number, sha, head_ref, base_ref, flags)
        body = json.dumps(d).encode()
        headers["Content-Type"] = "application/json"
        if forge == "gitlab":
            headers["X-Gitlab-Token"] = secret.decode()
        else:
            headers["X-Hub-Signature"] = "sha256=" + hmac.new(
                secret, body, hashlib.sha256).hexdigest()
        send(url, headers, body)
        return
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
    sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
    send(url, {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/cloudsphere-test",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + sig,
    }, body)


if __name__ == "__main__":
    main()

#!/bin/sh
# Tests of cloudspherectl's offline commands against the example repository,
# a real Git repository made from it, and broken command lines (TAP).
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
. "$srcdir/tests/tap.sh"
ctl="$builddir/cloudspherectl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp -a "$srcdir/examples/config-repo" "$tmp/repo"
chmod -R u+w "$tmp/repo"
(cd "$tmp/repo" && git init -q && git add -A &&
    git -c user.name=t -c user.email=t@t commit -qm example) || exit 99

# validate: the example is clean, from a folder and from Git.
out=$("$ctl" validate "$srcdir/examples/config-repo"); st=$?
check "validate example exits 0" test $st -eq 0
check "validate example prints the summary" \
    test "$out" = "5 deployments, 3 blueprints: OK"
out=$("$ctl" validate --git "$tmp/repo"); st=$?
check "validate --git example exits 0" test $st -eq 0
check "validate --git prints the same summary" \
    test "$out" = "5 deployments, 3 blueprints: OK"

# Identical fingerprints from the folder and from the commit.
"$ctl" validate --fingerprints "$srcdir/examples/config-repo" >"$tmp/fp-dir"
"$ctl" validate --fingerprints --git "$tmp/repo" >"$tmp/fp-git"
check "fingerprints: one per deployment" test "$(wc -l <"$tmp/fp-dir")" -eq 5
check "fingerprints: 64 hex digits each" \
    test "$(grep -c -E '^[a-z0-9-]+ [0-9a-f]{64}$' "$tmp/fp-dir")" -eq 5
if cmp -s "$tmp/fp-dir" "$tmp/fp-git"; then
	ok "fingerprints: folder and Git sources agree"
else
	not_ok "fingerprints: folder and Git sources agree"
	diag "$(diff "$tmp/fp-dir" "$tmp/fp-git")"
fi

# A config root below the repository's root: --path.
mkdir -p "$tmp/mono/infra"
cp -a "$srcdir/examples/config-repo/." "$tmp/mono/infra/"
chmod -R u+w "$tmp/mono"
(cd "$tmp/mono" && git init -q && git add -A &&
    git -c user.name=t -c user.email=t@t commit -qm mono) || exit 99
"$ctl" validate --fingerprints --git "$tmp/mono" --path infra >"$tmp/fp-mono"
check "fingerprints: --path gives the same" cmp -s "$tmp/fp-dir" "$tmp/fp-mono"
"$ctl" validate --git "$tmp/mono" --path nowhere >/dev/null 2>"$tmp/err"
check "validate --path to a missing folder exits 1" test $? -eq 1
check "validate --path to a missing folder says so" \
    grep -q "path 'nowhere' is not a folder" "$tmp/err"

# A change moves exactly that deployment's fingerprint.
sed -i 's/greeting: Good morning/greeting: Good evening/' \
    "$tmp/repo/templates/greeter.yaml"
(cd "$tmp/repo" && git -c user.name=t -c user.email=t@t commit -qam change)
"$ctl" validate --fingerprints --git "$tmp/repo" >"$tmp/fp-git2"
check "fingerprints: a template change moves only its user" \
    test "$(diff "$tmp/fp-git" "$tmp/fp-git2" | grep -c '^>')" -eq 1
"$ctl" validate --fingerprints --git "$tmp/repo" --rev HEAD~1 >"$tmp/fp-git3"
check "validate --rev reads an older commit" cmp -s "$tmp/fp-git" "$tmp/fp-git3"

# --json is JSON with the counts.
"$ctl" validate --json "$srcdir/examples/config-repo" >"$tmp/json"
check "validate --json is valid JSON" python3 -m json.tool "$tmp/json"
check "validate --json counts deployments" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["deployments"]==5 and d["errors"]==[] else 1)' "$tmp/json"

# render: resolved inputs, secrets hidden, unknown outputs shown as such.
"$ctl" render motd "$srcdir/examples/config-repo" >"$tmp/motd" 2>"$tmp/motd.err"
check "render exits 0" test $? -eq 0
check "render prints JSON" python3 -m json.tool "$tmp/motd"
check "render shows an unknown output as its expression" \
    grep -q '"\${{ deployments.network.outputs.subnet_id }}"' "$tmp/motd"
check "render notes the unknown output" grep -q "note: input 'subnet_id'" "$tmp/motd.err"
mkdir -p "$tmp/secrets"
printf 'sup3r-s3cret-value\n' >"$tmp/secrets/hello_api_token"
chmod 600 "$tmp/secrets/hello_api_token"
"$ctl" render --secrets-dir "$tmp/secrets" hello-production \
    "$srcdir/examples/config-repo" >"$tmp/hello" 2>&1
check "render with secrets exits 0" test $? -eq 0
check "render redacts secrets" grep -q '"api_token": "\*\*\*"' "$tmp/hello"
check "render never prints a secret" sh -c "! grep -q sup3r '$tmp/hello'"
chmod 644 "$tmp/secrets/hello_api_token"
"$ctl" render --secrets-dir "$tmp/secrets" hello-production \
    "$srcdir/examples/config-repo" >"$tmp/hello" 2>&1
check "a secret file readable by others is refused" \
    grep -q "readable by others" "$tmp/hello"
"$ctl" render --secrets-dir "$tmp/secrets" hello-production \
    "$srcdir/examples/config-repo" >/dev/null 2>&1
check "render exits 1 on an unsafe secret file" test $? -eq 1
rm "$tmp/secrets/hello_api_token"
"$ctl" render --secrets-dir "$tmp/secrets" hello-production \
    "$srcdir/examples/config-repo" >/dev/null 2>"$tmp/err"
check "render reports a missing secret" grep -q "secret 'hello_api_token' is not set" "$tmp/err"
check "a refused secret is still never printed" sh -c "! grep -q sup3r '$tmp/hello'"
"$ctl" render --git "$tmp/repo" hello-staging >"$tmp/hs"
check "render --git works" grep -q '"greeting": "Good evening"' "$tmp/hs"
"$ctl" render nope "$srcdir/examples/config-repo" >/dev/null 2>"$tmp/err"
check "render of a missing deployment exits 1" test $? -eq 1
check "render of a missing deployment says so" grep -q "no deployment 'nope'" "$tmp/err"

# Broken repositories: exit 1 and FILE:LINE lines; invalid ones rendered no.
mkdir -p "$tmp/bad"
cp -a "$srcdir/examples/config-repo/." "$tmp/bad/"
chmod -R u+w "$tmp/bad"
printf 'blueprint: hello\nenvironment: staging\ninputs: { nope: 1 }\n' \
    >"$tmp/bad/deployments/broken.yaml"
"$ctl" validate "$tmp/bad" >"$tmp/out" 2>"$tmp/err"
check "validate of a broken repository exits 1" test $? -eq 1
check "validate prints FILE:LINE: message" \
    grep -q "^deployments/broken.yaml:3: input 'nope' is not declared by blueprint 'hello'" "$tmp/out"
check "validate summarises on stderr" grep -q "3 errors; 1 of 6 deployments invalid" "$tmp/err"
"$ctl" render broken "$tmp/bad" >/dev/null 2>"$tmp/err"
check "render of an invalid deployment exits 1" test $? -eq 1
"$ctl" render motd "$tmp/bad" >/dev/null 2>&1
check "a broken deployment does not hide the others" test $? -eq 0
"$ctl" validate "$tmp/does-not-exist" >/dev/null 2>"$tmp/err"
check "validate of a missing folder exits 1" test $? -eq 1

# Usage errors exit 2; help exits 0.
"$ctl" >/dev/null 2>&1
check "no command: exit 2" test $? -eq 2
"$ctl" frobnicate >/dev/null 2>&1
check "unknown command: exit 2" test $? -eq 2
"$ctl" validate a b >/dev/null 2>&1
check "validate with two folders: exit 2" test $? -eq 2
"$ctl" validate --rev HEAD . >/dev/null 2>&1
check "validate --rev without --git: exit 2" test $? -eq 2
"$ctl" render >/dev/null 2>&1
check "render without a deployment: exit 2" test $? -eq 2
"$ctl" validate --bogus >/dev/null 2>&1
check "unknown option: exit 2" test $? -eq 2
"$ctl" --help >/dev/null
check "--help: exit 0" test $? -eq 0
"$ctl" validate --help 2>&1 | grep -q "usage: cloudspherectl validate"
check "validate --help shows its usage" test $? -eq 0

tap_done

#!/bin/sh
# cloudsphered end to end with the real terraform (TAP): the shared plugin
# cache with parallel runs.  A provider comes from a packed filesystem
# mirror (a zip made here; a fake that cannot run, so the runs fail at
# plan, after init), as a download from a registry would: four new
# deployments init at once, each into its own cache, and the package is
# published once, whole, by a copy, into the shared cache; a fifth
# deployment's cache is seeded from it and terraform, with a lock file,
# uses it.  No two caches share a file: terraform rewrites a package it
# reinstalls in place.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! command -v terraform >/dev/null 2>&1; then
	echo "1..0 # SKIP terraform not found"
	exit 0
fi

d_setup 0
pkg=example.com/test/fake/1.0.0/linux_amd64
bin=terraform-provider-fake_v1.0.0
mkdir -p "$tmp/mirror/example.com/test/fake"
python3 -c '
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w")
i = zipfile.ZipInfo("terraform-provider-fake_v1.0.0")
i.external_attr = 0o755 << 16
z.writestr(i, "#!/bin/sh\necho a fake provider >&2\nexit 1\n" + "#" * 100000 + "\n")
z.writestr(zipfile.ZipInfo("LICENSE"), "none\n")
z.close()' "$tmp/mirror/example.com/test/fake/terraform-provider-fake_1.0.0_linux_amd64.zip"
printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["example.com/*/*"]\n  }\n}\n' \
    "$tmp/mirror" >"$tmp/tf.rc"
printf 'description: Providers from a local mirror\nrunner:\n  env: { TF_CLI_CONFIG_FILE: %s }\n' \
    "$tmp/tf.rc" >"$work/environments/mirror.yaml"
mkdir -p "$work/blueprints/fake"
printf 'description: needs a provider\nprovider: terraform\n' \
    >"$work/blueprints/fake/blueprint.yaml"
printf 'terraform {\n  required_providers {\n    fake = { source = "example.com/test/fake" }\n  }\n}\n' \
    >"$work/blueprints/fake/main.tf"
for n in 1 2 3 4; do
	printf 'blueprint: fake\nenvironment: mirror\n' >"$work/deployments/p$n.yaml"
done
d_commit "four deployments that need the same provider"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

first_run_ended() {
	d_ctl --json runs "$1" 2>/dev/null | python3 -c "import json,sys
r = json.load(sys.stdin)
sys.exit(0 if r and r[-1]['state'] not in ('queued', 'running') else 1)"
}
first_run() {
	d_ctl --json runs "$1" | python3 -c "import json,sys
r = json.load(sys.stdin)[-1]
print(r['id'], r['cause'])"
}
for n in 1 2 3 4; do
	d_wait_cond 90 first_run_ended p$n
	set -- $(first_run p$n)
	d_ctl log "$1" >"$tmp/log$n" 2>&1
	check "p$n: init installed the provider" grep -q "Installed example.com/test/fake v1.0.0" "$tmp/log$n"
	shift
	case "$*" in
	"plan: exited 1:"*) ok "p$n: init succeeded, plan failed on the fake ($*)" ;;
	*) not_ok "p$n: init succeeded, plan failed on the fake ($*)" ;;
	esac
	d_ctl suspend p$n >/dev/null 2>&1
done
shared=$state/plugin-cache
check "the package is in the shared cache" test -f "$shared/$pkg/$bin"
check "whole: with its other file" test -f "$shared/$pkg/LICENSE"
check "no temporary folder is left" sh -c "! find '$shared' -name '.*' | grep -q ."
ino() { stat -c %i "$1" 2>/dev/null; }
own() {
	for n in 1 2 3 4 5; do
		f=$state/deployments/infra/p$n/plugin-cache/$pkg/$bin
		[ -e "$f" ] || continue
		[ "$(ino "$f")" != "$(ino "$shared/$pkg/$bin")" ] || return 1
		cmp -s "$f" "$shared/$pkg/$bin" || return 1
	done
}
check "every cache has its own copy, the same bytes" own
check "each deployment's .terraform points into its own cache" test "$(readlink \
    "$state/deployments/infra/p1/.terraform/providers/$pkg")" = \
    "$state/deployments/infra/p1/plugin-cache/$pkg"
check "the lock file init wrote is kept with the state" \
    grep -q 'example.com/test/fake' "$state/deployments/infra/p1/.terraform.lock.hcl"

# A fifth deployment, whose blueprint has the lock file: seeded from the
# shared cache, which terraform uses since the hashes match.
mkdir -p "$work/blueprints/locked"
cp "$work/blueprints/fake/main.tf" "$work/blueprints/fake/blueprint.yaml" \
    "$work/blueprints/locked/"
cp "$state/deployments/infra/p1/.terraform.lock.hcl" "$work/blueprints/locked/"
printf 'blueprint: locked\nenvironment: mirror\n' >"$work/deployments/p5.yaml"
d_commit "a fifth"
d_wait_cond 90 first_run_ended p5
set -- $(first_run p5)
d_ctl log "$1" >"$tmp/log5" 2>&1
d_ctl suspend p5 >/dev/null 2>&1
check "p5's cache was seeded" test -f "$state/deployments/infra/p5/plugin-cache/$pkg/$bin"
check "still no two caches share a file" own
check "terraform used the cache" grep -q "Using example.com/test/fake v1.0.0 from the shared cache directory" "$tmp/log5"

d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done

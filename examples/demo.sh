#!/bin/sh
# Runs cloudsphered in the foreground on the bundled example repository,
# with everything under ./demo (or $DEMO_DIR): a bare Git repository made
# from examples/config-repo, a working clone to change it from, the secrets
# the example needs, the daemon's state and its configuration.
#
# In another terminal, while it runs:
#	./cloudspherectl -s demo/control.sock deployments
#	./cloudspherectl -s demo/control.sock log RUN -f
# and to change the desired state:
#	cd demo/work && sed -i 's/staging team/everyone/' deployments/hello-staging.yaml
#	git commit -qam "greet everyone" && git push -q
# The push is seen at once (inotify) and hello-staging is applied again.
#
# hello-production has policy approval manual: it is planned, then waits in
# phase "planned" until approved:
#	./cloudspherectl -s demo/control.sock show hello-production
#	./cloudspherectl -s demo/control.sock approve RUN	(the plan's run)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${DEMO_DIR:-$top/demo}
daemon=${CLOUDSPHERED:-$top/cloudsphered}

[ -x "$daemon" ] || { echo "demo: build first (make)" >&2; exit 1; }
mkdir -p "$demo"
if [ ! -d "$demo/config.git" ]; then
	rm -rf "$demo/work"
	cp -R "$top/examples/config-repo" "$demo/work"
	git -C "$demo/work" init -q -b main
	git -C "$demo/work" add -A
	git -C "$demo/work" -c user.name=demo -c user.email=demo@example.invalid \
	    commit -q -m "The example configuration"
	git clone -q --bare "$demo/work" "$demo/config.git"
	git -C "$demo/work" remote add origin "$demo/config.git"
	git -C "$demo/work" config user.name demo
	git -C "$demo/work" config user.email demo@example.invalid
	git -C "$demo/work" fetch -q origin
	git -C "$demo/work" branch -q --set-upstream-to=origin/main main
fi
# Secrets live on the daemon host, one file each, readable by it alone.
mkdir -p "$demo/secrets"
chmod 700 "$demo/secrets"
for s in hello_api_token hello_staging_api_token; do
	if [ ! -f "$demo/secrets/$s" ]; then
		(umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' \
		    >"$demo/secrets/$s")
	fi
done
cat >"$demo/cloudsphered.yaml" <<CONF
# Written by examples/demo.sh: see cloudsphered.conf(5).
state_dir: $demo/state
control_socket: $demo/control.sock
secrets_dir: $demo/secrets
max_parallel_runs: 4
repositories:
  - name: example
    url: $demo/config.git
    branch: main
    poll_interval: 0        # a local repository: inotify sees each push
CONF
echo "demo: cloudsphered on $demo/config.git; stop it with Ctrl-C"
echo "demo: in another terminal: ./cloudspherectl -s $demo/control.sock deployments"
echo "demo: hello-production waits for approval once planned: see its plan with"
echo "demo:   ./cloudspherectl -s $demo/control.sock show hello-production"
echo "demo: and apply exactly that plan with"
echo "demo:   ./cloudspherectl -s $demo/control.sock approve RUN   (the run id the show prints)"
exec "$daemon" -d -c "$demo/cloudsphered.yaml"

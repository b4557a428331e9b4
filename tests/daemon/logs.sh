#!/bin/sh
# A run's log capture through the daemon (TAP): stdout and stderr in the
# order written, a secret redacted when the provider writes it in two
# pieces with a pause between them (so that the daemon reads them apart),
# in the stored head and in the kept tail; past log_max_bytes the head and
# the tail kept and the bytes between them counted exactly in the
# "omitted" marker; a slow provider's log followed live.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
sed -i '1i log_max_bytes: 128KiB' "$tmp/cloudsphered.yaml"
secret=Log-Secret-Value-31337
printf '%s\n' "$secret" >"$tmp/secrets/logtoken"
chmod 600 "$tmp/secrets/logtoken"

mkdir -p "$work/blueprints/chatty"
cat >"$work/blueprints/chatty/blueprint.yaml" <<'EOF'
description: A provider that writes a lot
provider: script
inputs:
  token: { type: string, secret: true }
  mode: { type: string, default: big }
  gate: { type: string, default: "" }
timeouts: { plan: 30s, apply: 60s, destroy: 30s }
script:
  command: ./chatty
EOF
# Writes with os.write (no buffering): each call is one write(2).  Counts
# the bytes it wrote in $CLOUDSPHERE_STATE_DIR/written.
cat >"$work/blueprints/chatty/chatty" <<'EOF'
#!/usr/bin/env python3
import json, os, sys, time
inputs = json.load(open(os.environ["CLOUDSPHERE_INPUTS"]))
token = inputs["token"]
total = 0
def w(fd, s):
    global total
    b = s.encode()
    while b:
        n = os.write(fd, b)
        total += n
        b = b[n:]
def split_secret(where):
    # The secret in two writes, apart in time: two reads of the daemon.
    w(1, "%s: token=%s" % (where, token[:7]))
    time.sleep(0.3)
    w(1, "%s end\n" % token[7:])
if sys.argv[1] == "apply" and inputs["mode"] == "slow":
    for i in range(30):
        w(1, "tick %d\n" % i)
        # After tick 5 the run waits for the test to have seen it live.
        while i == 5 and inputs["gate"] and not os.path.exists(inputs["gate"]):
            time.sleep(0.05)
        time.sleep(0.1)
    w(1, "slow done\n")
elif sys.argv[1] == "apply":
    for i in range(300):
        w(1, "out %d\n" % i)
        w(2, "err %d\n" % i)
    split_secret("head")
    # 1 MiB in 4 KiB writes, as stdio writes to a pipe.
    line = "fill %s\n" % ("x" * 58)
    block = line * (4096 // len(line))
    for i in range(1048576 // len(block)):
        w(1, block)
    for i in range(2000):
        w(1 if i % 2 == 0 else 2, "tail %d\n" % i)
    split_secret("tail")
    w(1, "the end\n")
if sys.argv[1] == "apply":
    with open(os.path.join(os.environ["CLOUDSPHERE_STATE_DIR"], "written"), "w") as f:
        f.write("%d\n" % total)
with open(os.environ["CLOUDSPHERE_OUTPUTS"], "w") as f:
    f.write("{}\n")
EOF
chmod +x "$work/blueprints/chatty/chatty"
cat >"$work/deployments/big.yaml" <<'EOF'
blueprint: chatty
environment: test
inputs: { token: "${{ secrets.logtoken }}" }
EOF
d_commit "a chatty provider"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase big ready 60

run=$(d_runs big | awk '$2 == "apply" { id = $1 } END { print id }')
d_ctl log "$run" >"$tmp/big.log" 2>&1
check "the log is stored" test -s "$tmp/big.log"
check "the secret is not in the log" sh -c "! grep -q -- '$secret' '$tmp/big.log'"
check "no piece of the secret either" \
    sh -c "! grep -q -e '${secret%???????????????}' -e '${secret#???????}' '$tmp/big.log'"
check "the secret split in the head is redacted" grep -qx 'head: token=\*\*\* end' "$tmp/big.log"
check "the secret split in the tail is redacted" grep -qx 'tail: token=\*\*\* end' "$tmp/big.log"

# The head: stdout and stderr as written, one pipe.
order_ok() {
	python3 - "$tmp/big.log" <<'PY'
import sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
got = [l for l in lines if l.startswith(("out ", "err "))]
want = []
for i in range(300):
    want += ["out %d" % i, "err %d" % i]
sys.exit(0 if got == want else 1)
PY
}
check "stdout and stderr are in the order written" order_ok

# Past log_max_bytes (128 KiB: a 64 KiB head and a 64 KiB tail): the head,
# the marker, the tail; what is between them is counted exactly.
cap_ok() {
	python3 - "$tmp/big.log" "$state/deployments/infra/big/written" "$secret" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
written = int(open(sys.argv[2]).read())
secret = sys.argv[3].encode()
m = re.search(rb"\n\[cloudsphere: (\d+) bytes omitted\]\n", data)
assert m, "no marker"
head, tail = data[:m.start()], data[m.end():]
omitted = int(m.group(1))
assert len(head) == 65536, len(head)
# The tail is the stream's last 64 KiB: the provider's end, then the
# daemon's own last lines, if any.
end = tail.index(b"tail: token=*** end\nthe end\n") + len(b"tail: token=*** end\nthe end\n")
assert len(tail) == 65536 and end <= len(tail), (len(tail), end)
assert tail[:end].count(b"tail ") > 100
# Every byte of the redacted stream is in the head, the tail or the count:
# the provider's bytes, each secret replaced by ***, and the daemon's notes.
notes = sum(len(l) + 1 for l in (head + tail).split(b"\n") if l.startswith(b"[cloudsphere] "))
stream = written - 2 * (len(secret) - 3) + notes
assert len(head) + omitted + len(tail) == stream, (len(head), omitted, len(tail), stream)
PY
}
check "the head, the omitted count and the tail add up to the stream" cap_ok
log_bytes() {
	d_ctl --json runs big | python3 -c "import json,sys,os
r = [x for x in json.load(sys.stdin) if x['id'] == $run][0]
sys.exit(0 if r['log_bytes'] == os.path.getsize('$tmp/big.log') else 1)"
}
check "log_bytes is the size of what was stored" log_bytes
check "what was stored is the cap and the marker" \
    test "$(wc -c <"$tmp/big.log")" -lt $((128 * 1024 + 100))

# A slow provider followed live: its lines arrive while it runs.
cat >"$work/deployments/slow.yaml" <<EOF
blueprint: chatty
environment: test
inputs: { token: "\${{ secrets.logtoken }}", mode: slow, gate: "$tmp/gate" }
EOF
d_commit "a slow provider"
d_wait_phase slow applying 30
run=$(d_runs slow | awk '$2 == "apply" { id = $1 } END { print id }')
d_ctl log "$run" -f >"$tmp/follow" 2>&1 &
follower=$!
live() { grep -q "tick 5" "$tmp/follow" && d_is_phase slow applying; }
check "the follower sees the output while the run goes on" d_wait_cond 20 live
: >"$tmp/gate"
wait "$follower"; st=$?
check "log -f follows the run to its end (exit $st)" test $st -eq 0
ticks_ok() {
	test "$(grep -c '^tick [0-9]*$' "$tmp/follow")" -eq 30 &&
	    grep -q '^slow done$' "$tmp/follow"
}
check "the followed log has every line" ticks_ok
d_check_phase slow ready 30
tap_done

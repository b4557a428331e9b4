#!/bin/sh
# Replays the webhook fuzz corpus through the fuzz target (TAP).
set -eu
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
exec "$builddir/tests/fuzz/replay-webhook" "$srcdir"/tests/fuzz/corpus/webhook/*

#!/bin/sh
# Replays the model fuzz corpus through the fuzz target (TAP).
set -eu
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
exec "$builddir/tests/fuzz/replay-model" "$srcdir"/tests/fuzz/corpus/model/*

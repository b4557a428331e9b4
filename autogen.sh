#!/bin/sh
# Generate configure and Makefile.in from a Git checkout.
set -e
cd "$(dirname "$0")"
mkdir -p etc/m4
autoreconf -fi

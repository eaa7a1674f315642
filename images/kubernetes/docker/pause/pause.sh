#!/bin/sh
# The pause container: holds the pod's namespaces and sleeps until it is told to stop.
if [ "$1" = "--version" ]; then echo "pause $(uname -m)"; exit 0; fi
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done

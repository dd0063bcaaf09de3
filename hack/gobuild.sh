#!/usr/bin/env bash
# Builds Go main packages with one `go build -v`, into a folder (or one binary with -o FILE), and shows progress:
# a line every 15 s with the packages compiled so far, so that a first build on empty caches, which takes minutes,
# shows that it is moving. Compiler errors and other output pass through as they come.
#
#   hack/gobuild.sh LABEL OUT [go build flags and packages...]
#
# OUT ending in / receives one binary per package (go build -o DIR/); otherwise it is the binary's path.
set -uo pipefail
label=$1 out=$2
shift 2
go=${GO:-go}
start=$SECONDS
last=$SECONDS
n=0
rc=1
while IFS= read -r line; do
  # go build -v names each package it compiles on a line of its own; anything else (errors) is shown.
  if [[ $line == gobuild-exit:* ]]; then
    rc=${line#gobuild-exit:}
  elif [[ $line =~ ^[A-Za-z0-9._~/+-]+$ ]]; then
    n=$((n + 1))
    if (( SECONDS - last >= 15 )); then
      last=$SECONDS
      printf '  %s: %d packages compiled, %dm%02ds\n' "$label" "$n" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))
    fi
  else
    printf '%s\n' "$line"
  fi
done < <("$go" build -v -o "$out" "$@" 2>&1; echo "gobuild-exit:$?")
if (( rc == 0 )); then
  printf '  %s: built (%d packages compiled, %dm%02ds)\n' "$label" "$n" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))
fi
exit "$rc"

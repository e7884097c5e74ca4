#!/bin/bash
# check-layering.sh - enforce the one-way include graph (see shared STYLE notes / docs):
#   cli -> include/capsa -> core -> level -> {spec, linux} -> sys -> util
# (a level, src/lib/level/*, never includes core/ or cli/; linux/ never includes level/)
# Greps every #include "..." line and names each offending line. Exit 1 on any violation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bad=0
# check DIR ALLOWED_REGEX FORBIDDEN_REGEX: every quoted include in DIR must match ALLOWED (when
# non-empty) and must not match FORBIDDEN (when non-empty).
check() {
    local dir=$1 allowed=$2 forbidden=$3 f line inc
    [ -d "$dir" ] || return 0
    while IFS= read -r f; do
        while IFS= read -r line; do
            inc=${line#*:}
            inc=$(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' <<<"$inc")
            [ -n "$inc" ] || continue
            if { [ -n "$allowed" ] && ! [[ "$inc" =~ $allowed ]]; } ||
                { [ -n "$forbidden" ] && [[ "$inc" =~ $forbidden ]]; }; then
                echo "layering violation: $f:${line%%:*}: #include \"$inc\"" >&2
                bad=1
            fi
        done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
    done < <(find "$dir" -name '*.[ch]' | sort)
}

# Every layer may include the public header capsa/capsa.h: it defines struct capsa_err, the one
# error type all layers share.
pub='capsa/capsa\.h$'
check src/lib/util "^(util/|$pub)" ''
check src/lib/sys "^(sys/|util/|$pub)" ''
check src/lib/spec "^(spec/|util/|$pub)" ''
check src/lib/linux '' '^(core/|cli/|level/)'
check src/lib/level '' '^(core/|cli/)'
# The CLI talks to the library only through the public header, plus its own headers.
cli_own=$(find src/cli -maxdepth 1 -name '*.h' -printf '%f|' 2>/dev/null)
cli_own=${cli_own%|}
check src/cli "^(capsa/[A-Za-z0-9_.-]+\\.h${cli_own:+|${cli_own//./\\.}})\$" ''
# The guest agent is a program like the CLI: the public header, the vm protocol it speaks (and the
# NET message's payload with its guest side, nic.h), the error and cleanup helpers, its own header.
check src/agent '^(capsa/capsa\.h|level/vm/(proto|nic)\.h|util/(err|util)\.h|agent\.h)$' ''

if [ "$bad" -ne 0 ]; then
    exit 1
fi
echo "layering: ok"

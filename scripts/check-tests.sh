#!/bin/bash
# check-tests.sh [FILE...] - find bats assertions that cannot fail (part of `make lint`).
#
# bats runs a test body under `set -e`, and bash's errexit ignores the status of a command
# negated with `!` and of every command of an && list but the last. So in a test or a helper:
#
#   ! mounts_under "$dir"          asserts nothing unless it is the body's last command
#   [ -n "$a" ] && [ "$a" = b ]    asserts nothing about the first test unless it is last
#   run cmd; [[ $output == x ]]    never looks at cmd's exit status
#
# The shellcheck rule SC2314 flags the first inside @test bodies only; this script flags, in the
# @test bodies and functions of FILEs (default: tests/integration/*.bats and *.bash):
#   neg   a `! cmd` statement (no `||` on it) that is not the last command of its body;
#   and   a statement chaining tests with && (`[ x ] && [ y ]`) that is not the last command;
#   run   a `run cmd` (not `run -N` or `run !`) with no test of $status before the next
#         `run` or the end of the body.
# The fix: `run ! cmd` / `run -N cmd`, `cmd || fail_now "why"`, or `[ "$status" -eq N ]`.
# Prints FILE:LINE: rule: text for each finding; exit status 1 when there is one.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -eq 0 ]; then
    set -- tests/integration/*.bats tests/integration/*.bash
fi

awk '
# Ends a logical line (a statement, possibly spread over continued physical lines).
function reset_stmt() { stmt = ""; stmt_line = 0 }

# Quote state carried across physical lines: a multi-line string is not a statement.
function scan_quotes(s,    i, c, n) {
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (insq) { if (c == "\047") insq = 0; continue }
        if (c == "\\") { i++; continue }
        if (indq) { if (c == "\"") indq = 0; continue }
        if (c == "#" && (i == 1 || substr(s, i - 1, 1) ~ /[ \t]/)) return
        if (c == "\047") insq = 1
        else if (c == "\"") indq = 1
    }
}

# The statement with its quoted strings emptied (brace and operator counts see code only).
function strip_quotes(s,    i, c, n, q, out) {
    n = length(s); q = ""; out = ""
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (q == "\047") { if (c == q) { q = ""; out = out c } continue }
        if (c == "\\") { i++; continue }
        if (q == "\"") { if (c == q) { q = ""; out = out c } continue }
        if (c == "\047" || c == "\"") { q = c; out = out c; continue }
        out = out c
    }
    return out
}

function report(line, rule, text) {
    gsub(/^[ \t]+/, "", text)
    printf "%s:%d: %s: %s\n", file, line, rule, substr(text, 1, 100)
    bad++
}

# A finished statement: the pending "not last" findings are confirmed by any statement but a
# closing brace of the body.
function statement(line, text,    t, c) {
    t = text
    sub(/^[ \t]+/, "", t)
    if (t == "") return
    if (inbody && t ~ /^}[ \t]*$/ && depth == 1) {
        # The body ends: its last statement was allowed to be a negation or a chain.
        pend_line = 0
        if (run_line) report(run_line, "run", run_text)
        run_line = 0
        inbody = 0
        depth = 0
        return
    }
    if (pend_line) { report(pend_line, pend_rule, pend_text); pend_line = 0 }
    if (!inbody) return
    # Braces opening or closing blocks inside the body (nested functions, { ...; } groups).
    c = strip_quotes(t)
    depth += gsub(/(^|[ \t])\{([ \t]|$)/, "&", c) - gsub(/(^|[ \t;])\}([ \t;]|$)/, "&", c)
    if (depth < 1) depth = 1
    if (c ~ /^![ \t]/ && c !~ /\|\|/) {
        pend_line = line; pend_rule = "neg"; pend_text = t
    } else if (c ~ /^\[\[?[ \t]/ && c ~ /\]\]?[ \t]*&&[ \t]*\[\[?[ \t]/ && c !~ /\|\|/) {
        pend_line = line; pend_rule = "and"; pend_text = t
    }
    if (t ~ /\[\[?[ \t]+"?\$\{?status\}?"?[ \t]+(-eq|-ne|-gt|-ge|-lt|-le|=|==|!=)[ \t]/ ||
        t ~ /\(\([ \t]*\$?status[ \t]/)
        run_line = 0
    if (t ~ /^run[ \t]/) {
        if (run_line) report(run_line, "run", run_text)
        run_line = 0
        if (t !~ /^run[ \t]+(-[0-9]+|!)[ \t]/) { run_line = line; run_text = t }
    }
}

FNR == 1 {
    if (pend_line) report(pend_line, pend_rule, pend_text)
    if (run_line) report(run_line, "run", run_text)
    file = FILENAME
    pend_line = 0; run_line = 0; inbody = 0; depth = 0; insq = 0; indq = 0; heredoc = ""
    reset_stmt()
}

{
    raw = $0
    if (heredoc != "") {
        t = raw
        sub(/^\t+/, "", t)
        if (t == heredoc) heredoc = ""
        next
    }
    was_quoted = insq || indq
    # A body starts at "@test ... {" or "name() {" at the start of a line.
    if (!was_quoted && stmt == "" && (raw ~ /^@test[ \t].*\{[ \t]*$/ || raw ~ /^[A-Za-z_][A-Za-z0-9_]*\(\)[ \t]*\{[ \t]*$/)) {
        if (pend_line) { report(pend_line, pend_rule, pend_text); pend_line = 0 }
        if (run_line) { report(run_line, "run", run_text); run_line = 0 }
        inbody = 1
        depth = 1
        next
    }
    if (stmt == "") stmt_line = FNR
    stmt = stmt (stmt == "" ? "" : " ") (was_quoted ? "\001" : "") raw
    scan_quotes(raw)
    if (match(raw, /(^|[^<])<<-?[ \t]*["\047]?[A-Za-z_][A-Za-z0-9_]*["\047]?/) && !insq && !indq) {
        heredoc = substr(raw, RSTART, RLENGTH)
        sub(/^[^<]?<<-?[ \t]*["\047]?/, "", heredoc)
        sub(/["\047]$/, "", heredoc)
    }
    if (insq || indq) next
    t = raw
    sub(/[ \t]+#.*$/, "", t)
    if (t ~ /(\\|\|\||&&|\|)[ \t]*$/) next
    # Physical lines that began inside a string were joined: the statement starts at its head.
    s = stmt
    gsub(/\001/, "", s)
    statement(stmt_line, s)
    reset_stmt()
}

END {
    if (pend_line) report(pend_line, pend_rule, pend_text)
    if (run_line) report(run_line, "run", run_text)
    exit bad > 0
}' "$@"

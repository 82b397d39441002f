# shellcheck shell=bash
# Sourced by .ci/lab/lab: small helpers: timing, the lab's log, failing, polling.

# Small helpers

usage() { sed -n '/^# Usage:/,/^# Layout/{/^# Layout/d;s/^# \{0,1\}//;p}' "$SELF"; }

now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }   # locale may use a comma

fmt_us() { printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000)); }

# log: to stderr and the harness log; note: harness log only (for quiet commands).
note() {
  [[ -f $LAB_DIR/$MARKER_FILE ]] || return 0
  printf '%s [%s] %s\n' "$(date +%T.%3N)" "$$" "$*" >>"$LAB_DIR/lab.log" || true
}
log() { printf 'lab: %s\n' "$*" >&2; note "$*"; }

die() {
  printf 'lab: error: %s\n' "$*" >&2
  note "error: $*"
  [[ -d $LAB_DIR ]] && printf 'lab: logs: %s (lab.log, node*/log, node*/boot.log); collect: lab logs DEST\n' "$LAB_DIR" >&2
  exit 1
}

# usage_error: a mistake in the command line; no point in pointing at logs.
usage_error() { printf 'lab: %s\n' "$*" >&2; exit 2; }

# poll SECS INTERVAL CMD...: run CMD until it succeeds; fails once SECS have passed.
poll() {
  local secs=$1 interval=$2; shift 2
  local end=$(($(now_us) + secs * 1000000))
  while :; do
    "$@" && return 0
    (($(now_us) < end)) || return 1
    sleep "$interval"
  done
}

strip_colours() { sed -u -e 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

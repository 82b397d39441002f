# shellcheck shell=bash
# Sourced by .ci/lab/lab: the cluster's state as one node sees it (crm_mon XML).

# Cluster state, as seen by one node (crm_mon XML)

# online_in_view NODE NAMES...: NODE's view has a DC and every NAME online, not pending/unclean.
# Sets DC_SEEN to the DC's name.
online_in_view() {
  local viewer=$1 view n; shift
  view=$(query "$viewer" crm_mon -1 --output-as=xml 2>/dev/null) || return 1
  local re_dc='<current_dc present="true"[^>]* name="([^"]+)"'
  [[ $view =~ $re_dc ]] || return 1
  DC_SEEN=${BASH_REMATCH[1]}
  for n; do
    local re_node="<node name=\"$n\" [^>]*online=\"true\"[^>]*pending=\"false\"[^>]*unclean=\"false\""
    [[ $view =~ $re_node ]] || return 1
  done
}

# all_online NAMES...: every named node sees a DC and all named nodes online, and they agree on the DC.
all_online() {
  local v dc=""
  for v; do
    online_in_view "$v" "$@" || return 1
    [[ -z $dc || $dc == "$DC_SEEN" ]] || return 1
    dc=$DC_SEEN
  done
}

wait_online() { # wait_online SECS NAMES...
  local secs=$1 t0; shift
  t0=$(now_us)
  if ! poll "$secs" 0.2 all_online "$@"; then
    local v
    for v; do
      online_in_view "$v" "$@" 2>/dev/null && continue
      log "not online as seen by $v:"
      query "$v" crm_mon -1 2>&1 | sed 's/^/    /' >&2 || true
    done
    die "nodes $* not all online with a DC within $secs s"
  fi
  log "online: $* (DC $DC_SEEN) after $(fmt_us $(($(now_us) - t0))) s"
}

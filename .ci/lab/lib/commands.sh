# shellcheck shell=bash
# Sourced by .ci/lab/lab: the subcommands (lab up, exec, crm, crash, boot, stop, isolate, plug, status, logs, down).

# Subcommands

cmd_up() {
  local n=3 token=1000 providers=() name dir libexec="" nhosts=0 sbin="" scripts="" power="" blocks=()
  while (($#)); do
    case $1 in
      --hosts) nhosts=${2:?--hosts needs a number}; shift 2 ;;
      --libexec) libexec=${2:?--libexec needs a directory}; shift 2 ;;
      --libexec=*) libexec=${1#*=}; shift ;;
      --sbin) sbin=${2:?--sbin needs a directory}; shift 2 ;;
      --scripts) scripts=${2:?--scripts needs a directory}; shift 2 ;;
      --power) power=${2:?--power needs libvirt:PREFIX}; shift 2 ;;
      --block) blocks+=("${2:?--block needs a device}"); shift 2 ;;
      -n | --nodes) n=${2:?-n needs a number}; shift 2 ;;
      --token) token=${2:?--token needs milliseconds}; shift 2 ;;
      --provider) providers+=("${2:?--provider needs NAME=DIR}"); shift 2 ;;
      --provider=*) providers+=("${1#*=}"); shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "up: unknown argument '$1'" ;;
    esac
  done
  [[ $n =~ ^[1-9]$ ]] || usage_error "up: -n must be 1..9 (got '$n')"
  [[ $nhosts =~ ^[0-4]$ ]] || usage_error "up: --hosts must be 0..4 (got '$nhosts')"
  if [[ ! $token =~ ^[0-9]+$ ]] || ((token < 100)); then
    usage_error "up: --token must be milliseconds >= 100 (got '$token')"
  fi
  local spec lines=""
  for spec in ${providers[@]+"${providers[@]}"}; do
    name=${spec%%=*} dir=${spec#*=}
    [[ $spec == *=* && $name =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || usage_error "up: --provider wants NAME=DIR (got '$spec')"
    [[ -d $dir ]] || die "up: provider directory '$dir' does not exist"
    lines+="$name=$(readlink -f -- "$dir")"$'\n'
  done
  if [[ -n $sbin && ! -d $sbin ]]; then die "up: sbin directory '$sbin' does not exist"; fi
  if [[ -n $power && ! $power =~ ^libvirt:[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then usage_error "up: --power wants libvirt:PREFIX (got '$power')"; fi
  if [[ -n $libexec ]]; then
    [[ -d $libexec ]] || die "up: libexec directory '$libexec' does not exist"
    libexec=$(readlink -f -- "$libexec")
  fi
  if [[ -n $scripts ]]; then
    [[ -d $scripts ]] || die "up: scripts directory '$scripts' does not exist"
    scripts=$(readlink -f -- "$scripts")
    [[ $scripts != *[:,]* ]] || die "up: scripts directory '$scripts' has a ':' or ',' (an overlay's lowerdir cannot)"
  fi
  check_tools
  claim_lab_dir

  local t0; t0=$(now_us)
  trap 'up_abort' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$LAB_DIR"
  : >"$LAB_DIR/$MARKER_FILE"
  printf 'nodes=%s\ntoken=%s\nhosts=%s\n' "$n" "$token" "$nhosts" >"$LAB_DIR/lab.conf"
  if [[ -n $power ]]; then
    printf 'power=libvirt\npower_prefix=%s\npower_blocks=%s\n' "${power#libvirt:}" "${blocks[*]-}" >>"$LAB_DIR/lab.conf"
  fi
  printf '%s' "$lines" >"$LAB_DIR/providers"
  printf '%s' "$libexec" >"$LAB_DIR/libexec"
  printf '%s' "$scripts" >"$LAB_DIR/scripts"
  log "up: $n node(s), token $token ms, dir $LAB_DIR${lines:+, providers: $(printf '%s' "$lines" | tr '\n' ' ')}"

  mkdir -p "$LAB_DIR/sbin"
  install -m 0755 "$(dirname "$SELF")/fence_lab" "$LAB_DIR/sbin/fence_lab"
  if [[ -n $sbin ]]; then
    local program
    for program in "$sbin"/*; do [[ -f $program && -x $program ]] && install -m 0755 "$program" "$LAB_DIR/sbin/"; done
  fi
  local node_list host_list
  mapfile -t node_list < <(nodes)
  mapfile -t host_list < <(hosts)
  for name in "${node_list[@]}"; do make_node_dirs "$name" "$n" "$token"; done
  for name in sw client ${host_list[@]+"${host_list[@]}"} "${node_list[@]}"; do start_anchor "$name"; done
  for name in sw client ${host_list[@]+"${host_list[@]}"} "${node_list[@]}"; do wait_anchor "$name"; done
  sw_ip link add br0 type bridge
  sw_ip link set br0 up
  start_power_switch
  for name in client ${host_list[@]+"${host_list[@]}"} "${node_list[@]}"; do plug_in "$name"; done
  for name in "${node_list[@]}"; do start_boot "$name"; done
  wait_online "$LAB_UP_TIMEOUT" "${node_list[@]}"
  trap - EXIT INT TERM
  log "up: lab ready in $(fmt_us $(($(now_us) - t0))) s"
}

# A failed "up" keeps logs and leaves nothing running (unless LAB_KEEP_ON_FAIL=1).
up_abort() {
  local rc=$?
  ((rc != 0)) || return 0
  trap - EXIT INT TERM
  if [[ $LAB_KEEP_ON_FAIL == 1 ]]; then
    log "up failed; lab left running for inspection in $LAB_DIR (LAB_KEEP_ON_FAIL=1); tear down with: lab down"
  else
    local dest=${LAB_FAIL_LOGS:-$LAB_DIR-logs-$(date +%Y%m%d-%H%M%S)}
    cmd_down --logs "$dest" || true
    printf 'lab: up failed (exit %s); logs kept in %s\n' "$rc" "$dest" >&2
  fi
  exit "$rc"
}

# Refuse to touch a running lab (exit 3) or a directory that is not a lab; clear a dead lab's
# leftovers.
claim_lab_dir() {
  if [[ -e $LAB_DIR && ! -f $LAB_DIR/$MARKER_FILE ]]; then
    [[ -d $LAB_DIR && -z $(ls -A "$LAB_DIR") ]] || die "$LAB_DIR exists and is not a lab directory"
    return 0
  fi
  [[ -f $LAB_DIR/$MARKER_FILE ]] || return 0
  local f
  for f in "$LAB_DIR"/pids/*; do
    if [[ -f $f ]] && recorded "$(basename "${f%.*}")" "${f##*.}" >/dev/null; then
      printf 'lab: error: a lab is already running in %s (lab status; lab down)\n' "$LAB_DIR" >&2
      exit 3
    fi
  done
  if [[ -n $(lab_pids) ]]; then
    printf 'lab: error: processes of a lab in %s are still running (lab down)\n' "$LAB_DIR" >&2
    exit 3
  fi
  log "removing the remains of a dead lab in $LAB_DIR"
  cmd_down
}

cmd_exec() {
  local name=${1:?usage: lab exec NODE [--] CMD [ARG...]}; shift
  [[ ${1:-} == -- ]] && shift
  (($#)) || usage_error "usage: lab exec NODE [--] CMD [ARG...]"
  require_lab
  check_name "$name"
  enter "$name"
  exec "${NS_CMD[@]}" "$@"
}

cmd_crm() {
  local name=${1:?usage: lab crm NODE ARG...}; shift
  require_lab
  check_node "$name"
  enter "$name"
  note "crm on $name: $*"
  # crmsh colours its warnings even with -D plain (pitfall 2); keep stdout and stderr apart.
  # stderr goes through the inner filter, stdout through the outer one (via fd 3); with pipefail
  # the pipeline's status is crm's unless a filter fails.
  local rc=0
  { "${NS_CMD[@]}" crm "$@" 2>&1 1>&3 3>&- | strip_colours >&2; } 3>&1 | strip_colours || rc=$?
  return "$rc"
}

cmd_pid() {
  local name=${1:?usage: lab pid NODE}
  require_lab
  check_name "$name"
  recorded "$name" anchor || die "$name is not running"
}

cmd_crash() {
  local name=${1:?usage: lab crash NODE} pid
  require_lab
  check_node "$name"
  pid=$(boot_pid "$name") || die "$name is not booted"
  # Unplug first: the anchor keeps the netns (and a VIP in it) alive; a crash without unplugging
  # would leave a duplicate IP on the segment (pitfall 12).
  sw_ip link set "sw-$name" down
  if uses_libvirt; then
    lxc_virsh destroy "$(lxc_domain "$name")" >/dev/null || kill -9 "$pid"
  else
    kill -9 "$pid"   # PID 1 of the namespace: the kernel kills everything in it at once
  fi
  wait_gone "$pid" || die "$name: boot PID 1 $pid did not die"
  rm -f "$LAB_DIR/pids/$name.boot"
  log "crash: $name (boot PID $pid killed, link unplugged)"
}

cmd_boot() {
  local name=${1:?usage: lab boot NODE}
  require_lab
  check_node "$name"
  ! booted "$name" || die "$name is already booted"
  set_address "$name"
  forget_ipvs "$name"
  sw_ip link set "sw-$name" up
  start_boot "$name"
  log "boot: $name"
  wait_online "$LAB_ONLINE_TIMEOUT" "$name"
}

# forget_ipvs NODE: what a reboot forgets of IPVS (the node's netns outlives its boots).
forget_ipvs() {
  run_in "$1" test -e /proc/net/ip_vs || return 0
  command -v ipvsadm >/dev/null || die "boot: $1 has IPVS state and ipvsadm is missing to clear it"
  run_in "$1" ipvsadm -C
  local state
  for state in master backup; do run_in "$1" ipvsadm --stop-daemon "$state" 2>/dev/null || true; done
}

running_in() { query "$1" pgrep -x "$2" >/dev/null; }
stopped_in() { ! running_in "$@"; }

cmd_stop() {
  local name=${1:?usage: lab stop NODE} pid t0
  require_lab
  check_node "$name"
  pid=$(recorded "$name" boot) || die "$name is not booted"
  t0=$(now_us)
  query "$name" pacemakerd --shutdown || log "stop: $name: pacemakerd --shutdown returned $?"
  # --shutdown returns at once (pitfall 9): wait for pacemakerd to exit.
  poll "$LAB_STOP_TIMEOUT" 0.1 stopped_in "$name" pacemakerd || die "stop: $name: pacemakerd still running after $LAB_STOP_TIMEOUT s"
  query "$name" corosync-cfgtool -H >/dev/null || die "stop: $name: corosync-cfgtool -H failed"
  poll "$LAB_STOP_TIMEOUT" 0.1 stopped_in "$name" corosync || die "stop: $name: corosync still running after $LAB_STOP_TIMEOUT s"
  kill -9 "$pid"
  wait_gone "$pid" || die "$name: boot PID 1 $pid did not die"
  rm -f "$LAB_DIR/pids/$name.boot"
  log "stop: $name stopped in $(fmt_us $(($(now_us) - t0))) s"
}

cmd_isolate() {
  require_lab; check_node "${1:?usage: lab isolate NODE}"
  sw_ip link set "sw-$1" down
  log "isolate: $1 unplugged"
}

cmd_plug() {
  require_lab; check_node "${1:?usage: lab plug NODE}"
  sw_ip link set "sw-$1" up
  log "plug: $1 plugged in"
}

cmd_wait_online() {
  require_lab
  local names=("$@") n
  ((${#names[@]})) || mapfile -t names < <(booted_nodes)
  ((${#names[@]})) || die "wait-online: no node is booted"
  for n in "${names[@]}"; do check_node "$n"; booted "$n" || die "wait-online: $n is not booted"; done
  wait_online "$LAB_ONLINE_TIMEOUT" "${names[@]}"
}

# Without NODE: the view of the first node in a quorate partition (after isolate, the isolated
# node's view is misleading), else of the first node that answers.
cmd_status() {
  require_lab
  local n out first=""
  if (($#)); then check_node "$1"; query "$1" crm_mon -1; return; fi
  for n in $(booted_nodes); do
    out=$(query "$n" crm_mon -1 2>/dev/null) || continue
    [[ $out == *"partition with quorum"* ]] && { printf '%s\n' "$out"; return 0; }
    first=${first:-$out}
  done
  [[ -n $first ]] || die "status: no node answered"
  printf '%s\n' "$first"
}

cmd_logs() {
  local dest=${1:?usage: lab logs DEST} name d
  [[ -f $LAB_DIR/$MARKER_FILE ]] || die "no lab in $LAB_DIR"
  mkdir -p "$dest"
  cp -a "$LAB_DIR/lab.log" "$dest/" 2>/dev/null || true
  cp -a "$LAB_DIR/lab.conf" "$LAB_DIR/providers" "$dest/" 2>/dev/null || true
  for d in "$LAB_DIR"/*/; do
    name=$(basename "$d")
    [[ $name == pids ]] && continue
    mkdir -p "$dest/$name"
    cp -a "$d"/*.log "$dest/$name/" 2>/dev/null || true
    if [[ -d $d/log ]]; then
      cp -a "$d/log" "$dest/$name/" 2>/dev/null || true
      cp "$d/etc/corosync/corosync.conf" "$dest/$name/" 2>/dev/null || true
    fi
    if is_node "$name" && booted "$name"; then
      query "$name" crm_mon -1 -r -f -A >"$dest/$name/crm_mon.txt" 2>&1 || true
      query "$name" cibadmin -Q >"$dest/$name/cib.xml" 2>&1 || true
    fi
  done
  log "logs: copied to $dest"
}

cmd_down() {
  local dest=""
  case ${1:-} in
    --logs) dest=${2:?--logs needs a directory} ;;
    --logs=*) dest=${1#*=} ;;
    "") ;;
    *) usage_error "down: unknown argument '$1'" ;;
  esac
  if [[ ! -e $LAB_DIR ]]; then log "down: nothing in $LAB_DIR"; return 0; fi
  [[ -f $LAB_DIR/$MARKER_FILE ]] || die "down: $LAB_DIR is not a lab directory; not touching it"
  local t0; t0=$(now_us)
  [[ -n $dest ]] && { cmd_logs "$dest" || log "down: collecting logs failed"; }

  # Network namespaces of live anchors: anything still inside them belongs to the lab.
  local nets=() anchors=() boots=() f name pid ino
  for f in "$LAB_DIR"/pids/*.anchor; do
    [[ -f $f ]] || continue
    name=$(basename "$f" .anchor)
    pid=$(recorded "$name" anchor) || continue
    anchors+=("$pid")
    ino=$(netns_ino "$pid") && nets+=("$ino")
  done
  for f in "$LAB_DIR"/pids/*.boot; do
    [[ -f $f ]] || continue
    pid=$(recorded "$(basename "$f" .boot)" boot) && boots+=("$pid")
  done
  # libvirt power: the nodes' domains go with their boots (their logs are kept).
  if uses_libvirt; then
    for name in $(nodes); do
      [[ -n $dest ]] && cp "/var/log/libvirt/lxc/$(lxc_domain "$name").log" "$dest/" 2>/dev/null
      lxc_virsh destroy "$(lxc_domain "$name")" >/dev/null 2>&1 || true
      lxc_virsh undefine "$(lxc_domain "$name")" >/dev/null 2>&1 || true
    done
  fi
  # Boots first (PID 1 takes its whole namespace with it), then leftovers, then anchors.
  if ((${#boots[@]})); then
    kill -9 "${boots[@]}" 2>/dev/null || true
    wait_gone "${boots[@]}" || true
  fi
  local left
  left=$(lab_pids ${nets[@]+"${nets[@]}"})
  for pid in $left; do
    [[ " ${anchors[*]} " == *" $pid "* ]] || kill -9 "$pid" 2>/dev/null || true
  done
  if ((${#anchors[@]})); then kill -9 "${anchors[@]}" 2>/dev/null || true; fi
  # Safety net: anything still marked or in a lab netns (e.g. from a killed "up").
  if ! poll "$LAB_KILL_TIMEOUT" 0.1 kill_lab_pids ${nets[@]+"${nets[@]}"}; then
    die "down: processes survived: $(lab_pids ${nets[@]+"${nets[@]}"} | tr '\n' ' ')"
  fi
  # Mounts exist only in the dead namespaces; never rm -rf through a mount on the host.
  if grep -qF " $LAB_DIR/" /proc/self/mountinfo; then
    die "down: something is mounted under $LAB_DIR on the host; not removing it"
  fi
  log "down: done in $(fmt_us $(($(now_us) - t0))) s${dest:+ (logs in $dest)}"
  if [[ -n $dest ]]; then cp "$LAB_DIR/lab.log" "$dest/" 2>/dev/null || true; fi   # now with the teardown
  rm -rf -- "$LAB_DIR"
}

kill_lab_pids() {
  local left
  mapfile -t left < <(lab_pids "$@")
  ((${#left[@]})) || return 0
  note "down: killing ${left[*]}"
  kill -9 "${left[@]}" 2>/dev/null || true
  return 1
}

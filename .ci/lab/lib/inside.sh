# shellcheck shell=bash
# Sourced by .ci/lab/lab: code that runs inside the namespaces: the anchor, the boot, the power switch.

# Code that runs inside the namespaces (invoked as "lab _anchor" / "lab _boot")

# Directories Pacemaker expects in /run; /run is a fresh tmpfs per boot, like a real reboot.
make_run_dirs() {
  mkdir -p /run/crm /run/lock /run/resource-agents
  chown hacluster:haclient /run/crm
  chmod 0750 /run/crm
  chmod 1777 /run/lock
}

# Anchor: runs in fresh net+mount+UTS namespaces, mounts the node's private directories over
# the system ones, then turns into "sleep infinity" to keep the namespaces alive.
anchor_main() {
  local name=$1 d=$LAB_DIR/$1
  # The bind mounts below would hide the host's directories if this ran in the host namespace.
  [[ $(readlink /proc/self/ns/mnt) != "$(readlink /proc/1/ns/mnt)" ]] || die "_anchor must run in a new mount namespace"
  hostname "$name"
  ip link set lo up
  # "mount -n" everywhere: without it util-linux creates /run/mount (libmount utab) in the host's
  # /run, even from inside a new mount namespace.
  mount -n -t tmpfs -o mode=0755,nosuid,nodev "lab-run-$name" /run
  make_run_dirs
  # A sysfs mounted from inside the netns shows this namespace's interfaces (pitfall 11).
  mount -n -t sysfs -o nosuid,nodev,noexec "lab-$name" /sys
  if [[ $name == node* ]]; then
    mount -n --bind "$d/etc/corosync" /etc/corosync
    mount -n --bind "$d/lib/corosync" /var/lib/corosync
    mount -n --bind "$d/lib/pacemaker" /var/lib/pacemaker
    mount -n --bind "$d/log/corosync" /var/log/corosync
    mount -n --bind "$d/log/pacemaker" /var/log/pacemaker
    mount -n --bind "$d/log/crmsh" /var/log/crmsh      # crmsh's log path is hard-coded (pitfall 14)
    mount -n -t tmpfs -o mode=1777,nosuid,nodev,size=256m "lab-shm-$name" /dev/shm   # libqb IPC
    mount_providers "$d/ocf"
    # fence_lab beside the system's programs (fenced looks for fence agents in /usr/sbin).
    mount -n -t overlay -o "lowerdir=$LAB_DIR/sbin:/usr/sbin" "lab-sbin-$name" /usr/sbin
    if [[ -s $LAB_DIR/libexec ]]; then mount_libexec "$d/libexec" "$(<"$LAB_DIR/libexec")"; fi
    # DIR's cluster scripts over the system's: one mount (under emulation every process counts).
    if [[ -s $LAB_DIR/scripts ]]; then
      mount -n -t overlay -o "lowerdir=$(<"$LAB_DIR/scripts"):/usr/share/crmsh/scripts" "lab-scripts-$name" /usr/share/crmsh/scripts
    fi
  fi
  echo "$$" >"$d/ready.tmp"
  mv "$d/ready.tmp" "$d/ready"
  exec sleep infinity
}

# Build resource.d in a staging directory (system providers + --provider ones), then put it over
# /usr/lib/ocf/resource.d. Staging subdirectories were created by "up".
mount_providers() {
  local stage=$1 p name dir
  for p in "$OCF_DIR"/*/; do
    p=${p%/}
    mount -n --bind "$p" "$stage/${p##*/}"
  done
  while IFS='=' read -r name dir; do
    if [[ -n $name ]]; then mount -n --bind "$dir" "$stage/$name"; fi
  done <"$LAB_DIR/providers"
  mount -n --rbind "$stage" "$OCF_DIR"
}

# /usr/libexec with DIR as its tandem directory: a tmpfs staging directory holding a bind mount
# of every system entry plus DIR, put over /usr/libexec (the host's stays untouched).
mount_libexec() {
  local stage=$1 dir=$2 entry
  mkdir -p "$stage"
  mount -n -t tmpfs -o mode=0755 "lab-libexec" "$stage"
  for entry in /usr/libexec/*; do
    [[ -e $entry && ${entry##*/} != tandem ]] || continue
    if [[ -d $entry ]]; then mkdir "$stage/${entry##*/}"; else : >"$stage/${entry##*/}"; fi
    mount -n --bind "$entry" "$stage/${entry##*/}"
  done
  mkdir "$stage/tandem"
  mount -n --bind "$dir" "$stage/tandem"
  mount -n --rbind "$stage" /usr/libexec
}

# Boot: PID 1 of the node's PID namespace (own /proc). Starts the daemons, then reaps forever.
boot_main() {
  # Guard: only ever as PID 1 of a fresh PID+mount namespace inside the named node.
  [[ $$ == 1 && -n ${LAB_NODE:-} && $(hostname) == "$LAB_NODE" ]] || die "_boot must run as PID 1 of a node"
  # A libvirt domain's init writes to its console; the lab keeps the boot's log in the node.
  if [[ -n ${LAB_BOOT_LOG:-} ]]; then exec >>"$LAB_BOOT_LOG" 2>&1 </dev/null; fi
  echo "$(date +%T.%3N) boot $LAB_NODE"
  mount -n -t tmpfs -o mode=0755,nosuid,nodev "boot-run-$LAB_NODE" /run
  make_run_dirs
  mount -n -t tmpfs -o mode=1777,nosuid,nodev,size=256m "boot-shm-$LAB_NODE" /dev/shm
  corosync || die "corosync failed to start (see /var/log/corosync/corosync.log)"
  # pacemakerd started before corosync answers loops on CS_ERR_LIBRARY (pitfall 8).
  poll $((10 * LAB_SLOW)) 0.1 quiet corosync-cmapctl -g totem.cluster_name || die "corosync did not answer within $((10 * LAB_SLOW)) s"
  # pacemakerd stays in the foreground (pitfall 9); no syslog here, so log to a file.
  PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none \
    pacemakerd </dev/null >>/var/log/pacemaker/pacemakerd.out 2>&1 &
  # Answers the node's name: shows the client which node holds a VIP. EXEC: runs no shell.
  socat TCP-LISTEN:8080,fork,reuseaddr "EXEC:$(command -v hostname)" </dev/null &
  echo "$(date +%T.%3N) corosync, pacemakerd and socat started"
  # Bash reaps adopted orphans (corosync daemonized itself) from its SIGCHLD handler.
  while :; do wait || true; sleep 1; done
}

quiet() { "$@" >/dev/null 2>&1; }

# The power switch: one request per connection ("off|on|reboot|status NODE", or "list") on
# stdin, one answer line. Runs in the host's mount and PID namespaces, on the bridge.
power_main() {
  local action node=""
  read -r -t 5 action node || { echo "ERR no request"; return 0; }
  note "power: $action $node"
  if [[ $action == list ]]; then nodes; return 0; fi
  is_node "$node" || { echo "ERR unknown node '$node'"; return 0; }
  case $action in
    status) if booted "$node"; then echo on; else echo off; fi ;;
    off) power_off "$node" && echo "OK off" ;;
    on) power_on "$node" && echo "OK on" ;;
    reboot) power_off "$node" && power_on "$node" && echo "OK reboot" ;;
    *) echo "ERR unknown action '$action'" ;;
  esac
}

power_off() {
  booted "$1" || return 0
  (cmd_crash "$1") >&2 || { echo "ERR $1 did not power off"; return 1; }
}

# Powered on, the node boots on its own: the switch does not wait for it to join.
power_on() {
  booted "$1" && return 0
  setsid bash "$SELF" boot "$1" </dev/null >>"$LAB_DIR/sw/power.log" 2>&1 &
  disown
}

start_power_switch() {
  local anchor
  anchor=$(recorded sw anchor) || die "sw: anchor is gone"
  sw_ip addr add "$POWER_ADDR/24" dev br0
  # socat's EXEC runs no shell: it splits its argument on spaces. -t: once the request is in,
  # socat would kill the handler after 0.5 s (too short under emulation).
  env -i "PATH=$NODE_PATH" "TANDEM_LAB=$LAB_DIR" LANG=C.UTF-8 "LAB_SLOW=$LAB_SLOW" \
    setsid nsenter -t "$anchor" -n -- \
    socat -t $((30 * LAB_SLOW)) "TCP-LISTEN:$POWER_PORT,bind=$POWER_ADDR,fork,reuseaddr" "EXEC:bash $SELF _power" \
    </dev/null >>"$LAB_DIR/sw/power.log" 2>&1 &
  local pid=$!
  disown
  record sw power "$pid"
}

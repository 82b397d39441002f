# shellcheck shell=bash
# Sourced by .ci/lab/lab: the lab's configuration, its names and addresses, and entering their namespaces.

# Lab configuration

conf() { # conf KEY: value from lab.conf
  local k v
  while IFS='=' read -r k v; do [[ $k == "$1" ]] && { echo "$v"; return 0; }; done <"$LAB_DIR/lab.conf"
  return 1
}

require_lab() { [[ -f $LAB_DIR/lab.conf ]] || die "no lab in $LAB_DIR (run: lab up)"; }

nodes() { local i n; n=$(conf nodes); for ((i = 1; i <= n; i++)); do echo "node$i"; done; }

is_node() { [[ $1 =~ ^node[1-9]$ ]] && [[ -f $LAB_DIR/lab.conf ]] && ((${1#node} <= $(conf nodes))); }

hosts() { local i n; n=$(conf hosts) || n=0; for ((i = 1; i <= n; i++)); do echo "host$i"; done; }

is_host() { [[ $1 =~ ^host[1-4]$ ]] && [[ -f $LAB_DIR/lab.conf ]] && ((${1#host} <= $(conf hosts || echo 0))); }

check_name() { # NODE, HOST, client or sw
  [[ $1 == client || $1 == sw ]] || is_node "$1" || is_host "$1" ||
    usage_error "unknown node '$1' (nodes: $(nodes | tr '\n' ' ')$(hosts | tr '\n' ' ')client sw)"
}

check_node() { is_node "$1" || usage_error "'$1' is not a cluster node (nodes: $(nodes | tr '\n' ' '))"; }

addr_of() {
  case $1 in
    client) echo "$CLIENT_ADDR" ;;
    host*) echo "$SUBNET.10${1#host}" ;;
    *) echo "$SUBNET.${1#node}" ;;
  esac
}

booted() { boot_pid "$1" >/dev/null; }

# boot_pid NODE: the running boot's PID 1. With libvirt power a fence agent may have restarted
# the node's domain behind the lab's back: the new boot is found and recorded.
boot_pid() {
  local pid
  if pid=$(recorded "$1" boot); then echo "$pid"; return 0; fi
  uses_libvirt && find_lxc_pid1 "$1" && { record "$1" boot "$PID1"; echo "$PID1"; return 0; }
  return 1
}

# Entering a namespace

# enter NAME: set NS_CMD to the command prefix that runs a program inside NAME with a clean
# environment (PID namespace of the running boot if there is one, else the anchor's namespaces).
# -r: the target's root directory, which is not the mount namespace's root when the lab runs
# chrooted (the IPVS guest of .ci/vm runs its command in a chroot).
enter() {
  local pid
  if is_node "$1" && pid=$(boot_pid "$1"); then
    NS_CMD=(nsenter -t "$pid" -n -m -u -p -r --wd=/ --)
  else
    pid=$(recorded "$1" anchor) || die "$1 is not running (no anchor; is the lab up?)"
    NS_CMD=(nsenter -t "$pid" -n -m -u -r --wd=/ --)
  fi
  NS_CMD+=(env -i "PATH=$NODE_PATH" "HOME=$LAB_DIR/$1/home" LANG=C.UTF-8 "TANDEM_LAB=$LAB_DIR" "LAB_NODE=$1")
}

run_in() { local name=$1; shift; enter "$name"; "${NS_CMD[@]}" "$@"; }

# query NODE CMD...: like run_in, but bounded in time (a hung daemon must not hang the harness).
query() { local name=$1; shift; enter "$name"; timeout -k 2 $((10 * LAB_SLOW)) "${NS_CMD[@]}" "$@"; }

sw_ip() { run_in sw ip "$@"; }

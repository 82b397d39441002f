# shellcheck shell=bash
# Sourced by .ci/lab/lab: building the lab: corosync and CIB files, node directories, anchors, boots.

# Building the lab

write_corosync_conf() { # write_corosync_conf FILE N TOKEN
  local i
  {
    # No end-of-line comments in corosync.conf (pitfall 4).
    cat <<EOF
totem {
    version: 2
    cluster_name: $CLUSTER_NAME
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: $3
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    timestamp: on
}
quorum {
    provider: corosync_votequorum
EOF
    (($2 == 2)) && echo "    two_node: 1"
    echo "}"
    echo "nodelist {"
    for ((i = 1; i <= $2; i++)); do
      printf '    node {\n        name: node%d\n        nodeid: %d\n        ring0_addr: %s.%d\n    }\n' "$i" "$i" "$SUBNET" "$i"
    done
    echo "}"
  } >"$1"
}

# Seed CIB: without dc-deadtime the first election waits 20 s (pitfall 1); nothing starts without
# stonith-enabled=false (pitfall 2). No cib.xml.sig: pacemaker-based only warns.
write_seed_cib() {
  cat >"$1" <<'EOF'
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/>
      </meta_attributes>
    </rsc_defaults>
  </configuration>
  <status/>
</cib>
EOF
}

# Per-node directories with the owners and modes the daemons insist on (pitfall 6).
make_node_dirs() { # make_node_dirs NAME N TOKEN
  local d=$LAB_DIR/$1 p
  mkdir -p "$d"/{etc/corosync/uidgid.d,lib/corosync,log/corosync,home}
  mkdir -p "$d"/lib/pacemaker/{cib,pengine,blackbox,cores} "$d"/log/pacemaker/bundles "$d"/log/crmsh
  chown -R hacluster:haclient "$d"/lib/pacemaker/{cib,pengine,blackbox,cores} "$d"/log/pacemaker "$d"/log/crmsh
  chmod 0750 "$d"/lib/pacemaker/{cib,pengine,blackbox,cores}
  chmod 0770 "$d"/log/pacemaker "$d"/log/pacemaker/bundles
  chmod 0775 "$d"/log/crmsh
  write_corosync_conf "$d/etc/corosync/corosync.conf" "$2" "$3"
  write_seed_cib "$d/lib/pacemaker/cib/cib.xml"
  chown hacluster:haclient "$d/lib/pacemaker/cib/cib.xml"
  chmod 0600 "$d/lib/pacemaker/cib/cib.xml"
  # Mount points for resource.d: one per system provider plus the --provider ones.
  for p in "$OCF_DIR"/*/; do p=${p%/}; mkdir -p "$d/ocf/${p##*/}"; done
  while IFS='=' read -r p _; do
    if [[ -n $p ]]; then mkdir -p "$d/ocf/$p"; fi
  done <"$LAB_DIR/providers"
}

start_anchor() {
  mkdir -p "$LAB_DIR/$1/home"
  # setsid: detach from the caller's terminal; TANDEM_LAB marks every process of this lab.
  env -i "PATH=$NODE_PATH" "TANDEM_LAB=$LAB_DIR" LANG=C.UTF-8 "LAB_SLOW=$LAB_SLOW" \
    setsid unshare --net --mount --uts --propagation private -- bash "$SELF" _anchor "$1" \
    </dev/null >>"$LAB_DIR/$1/anchor.log" 2>&1 &
  disown   # no "Killed" job report when a failed up tears it down
}

anchor_ready() { [[ -f $LAB_DIR/$1/ready ]]; }

wait_anchor() {
  poll $((10 * LAB_SLOW)) 0.02 anchor_ready "$1" || die "$1: anchor not ready within $((10 * LAB_SLOW)) s (see $LAB_DIR/$1/anchor.log)"
  local pid
  read -r pid <"$LAB_DIR/$1/ready"
  record "$1" anchor "$pid"
}

# plug_in NAME: veth pair sw-NAME (bridge port in sw) <-> eth0 (in NAME), with NAME's address.
plug_in() {
  local pid
  pid=$(recorded "$1" anchor) || die "$1: anchor is gone"
  sw_ip link add "sw-$1" type veth peer name eth0 netns "$pid"
  sw_ip link set "sw-$1" master br0 up
  set_address "$1"
}

set_address() {
  run_in "$1" ip addr flush dev eth0 scope global   # drops a stale VIP, as a reboot would
  run_in "$1" ip addr add "$(addr_of "$1")/24" dev eth0
  run_in "$1" ip link set eth0 up
}

# start_boot NODE: new PID namespace in the node's anchor namespaces; record its PID 1.
start_boot() {
  if uses_libvirt; then start_lxc_boot "$1"; return; fi
  local anchor launcher
  anchor=$(recorded "$1" anchor) || die "$1: anchor is gone"
  env -i "PATH=$NODE_PATH" "HOME=$LAB_DIR/$1/home" LANG=C.UTF-8 "TANDEM_LAB=$LAB_DIR" "LAB_NODE=$1" "LAB_SLOW=$LAB_SLOW" \
    setsid nsenter -t "$anchor" -n -m -u -r -- unshare --pid --fork --mount-proc -- bash "$SELF" _boot \
    </dev/null >>"$LAB_DIR/$1/boot.log" 2>&1 &
  launcher=$!   # setsid, nsenter and env exec; this is the unshare process
  disown
  poll $((10 * LAB_SLOW)) 0.02 find_pid1 "$launcher" || die "$1: boot did not start (see $LAB_DIR/$1/boot.log)"
  record "$1" boot "$PID1"
}

# find_pid1 PID: set PID1 to the child of PID that is PID 1 of its own PID namespace.
find_pid1() {
  local c ns
  for c in $(pgrep -P "$1"); do
    ns=$(awk '/^NSpid:/ {print $NF}' "/proc/$c/status" 2>/dev/null) || continue
    [[ $ns == 1 ]] && { PID1=$c; return 0; }
  done
  return 1
}

check_tools() {
  local t missing=()
  for t in corosync corosync-cmapctl corosync-cfgtool pacemakerd crm_mon crm cibadmin socat ip nsenter unshare setsid pgrep timeout; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (apt-get install pacemaker corosync crmsh resource-agents socat iproute2 procps util-linux)"
  [[ $(id -u) == 0 ]] || die "the lab needs root"
}

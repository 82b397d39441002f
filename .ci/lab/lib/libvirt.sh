# shellcheck shell=bash
# Sourced by .ci/lab/lab: nodes as libvirt LXC domains (lab up --power libvirt:PREFIX).

# libvirt power (lab up --power libvirt:PREFIX)

LXC_URI=lxc:///system
uses_libvirt() { [[ -f $LAB_DIR/lab.conf && $(conf power || true) == libvirt ]]; }
lxc_domain() { echo "$(conf power_prefix)-$1"; }
lxc_virsh() { timeout -k 2 $((30 * LAB_SLOW)) virsh -q -c "$LXC_URI" "$@"; }

# find_lxc_pid1 NODE: sets PID1 to the host PID of PID 1 of the node's container.
find_lxc_pid1() {
  local p line
  for p in /proc/[0-9]*; do
    # PID 1 of a nested PID namespace ("NSpid: <host pid> ... 1"), read without forking.
    line=""
    { while IFS= read -r line; do [[ $line == NSpid:* ]] && break; done <"$p/status"; } 2>/dev/null || continue
    [[ $line =~ ^NSpid:.*[[:space:]]1$ && ! $line =~ ^NSpid:[[:space:]]+1$ ]] || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "LAB_NODE=$1" || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "TANDEM_LAB=$LAB_DIR" || continue
    PID1=${p#/proc/}
    return 0
  done
  return 1
}

# The node's domain: an LXC container of the host's filesystem whose init enters the anchor's
# net, mount and UTS namespaces (through the host's /proc, mounted into the container) and
# becomes the node's boot, as PID 1 of the container's PID namespace.
start_lxc_boot() {
  local anchor dom xml block blocks=""
  anchor=$(recorded "$1" anchor) || die "$1: anchor is gone"
  for block in $(conf power_blocks || true); do
    [[ -b $block ]] || die "$1: $block is not a block device"
    blocks+="    <hostdev mode='capabilities' type='storage'><source><block>$block</block></source></hostdev>"$'\n'
  done
  dom=$(lxc_domain "$1")
  xml=$LAB_DIR/$1/domain.xml
  if ! lxc_virsh domstate "$dom" >/dev/null 2>&1; then
    cat >"$xml" <<EOF
<domain type='lxc'>
  <name>$dom</name>
  <memory unit='MiB'>2048</memory>
  <os>
    <type>exe</type>
    <init>/usr/bin/nsenter</init>
    <initarg>--net=/run/lab-host-proc/$anchor/ns/net</initarg>
    <initarg>--mount=/run/lab-host-proc/$anchor/ns/mnt</initarg>
    <initarg>--uts=/run/lab-host-proc/$anchor/ns/uts</initarg>
    <initarg>--</initarg>
    <initarg>/usr/bin/unshare</initarg>
    <initarg>--mount</initarg>
    <initarg>--mount-proc</initarg>
    <initarg>--propagation</initarg>
    <initarg>private</initarg>
    <initarg>--</initarg>
    <initarg>/bin/bash</initarg>
    <initarg>$SELF</initarg>
    <initarg>_boot</initarg>
    <initenv name='PATH'>$NODE_PATH</initenv>
    <initenv name='HOME'>$LAB_DIR/$1/home</initenv>
    <initenv name='LANG'>C.UTF-8</initenv>
    <initenv name='TANDEM_LAB'>$LAB_DIR</initenv>
    <initenv name='LAB_DIR'>$LAB_DIR</initenv>
    <initenv name='LAB_NODE'>$1</initenv>
    <initenv name='LAB_SLOW'>$LAB_SLOW</initenv>
    <initenv name='LAB_BOOT_LOG'>$LAB_DIR/$1/boot.log</initenv>
  </os>
  <features><capabilities policy='allow'/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <filesystem type='mount'><source dir='/proc'/><target dir='/run/lab-host-proc'/></filesystem>
    <console type='pty'/>
$blocks  </devices>
</domain>
EOF
    lxc_virsh define "$xml" >/dev/null || die "$1: cannot define domain $dom"
  fi
  lxc_virsh start "$dom" >/dev/null || die "$1: cannot start domain $dom (see /var/log/libvirt/lxc/$dom.log)"
  poll $((10 * LAB_SLOW)) 0.05 find_lxc_pid1 "$1" || die "$1: domain $dom started, but its boot did not"
  record "$1" boot "$PID1"
}

booted_nodes() { local n; for n in $(nodes); do booted "$n" && echo "$n"; done; return 0; }

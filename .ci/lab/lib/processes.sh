# shellcheck shell=bash
# Sourced by .ci/lab/lab: process records (a PID with its start time) and finding every process of the lab.

# Process records. A PID alone may be recycled; PID + start time identifies one process.

# proc_start PID: print the start time of a live (non-zombie) process.
proc_start() {
  local stat
  # Not stat=$(<file): under set -e a missing file there exits the script despite "|| return".
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }                      # drop "pid (comm) ": comm may contain spaces
  local -a f
  read -ra f <<<"$stat"
  [[ ${f[0]} != [ZX] ]] || return 1      # zombies count as dead (pitfall 13)
  echo "${f[19]}"                        # field 22 of stat = starttime
}

record() { # record NAME KIND PID
  local start
  start=$(proc_start "$3") || die "$1: $2 process $3 vanished right after start (see $LAB_DIR/$1/$2.log)"
  mkdir -p "$LAB_DIR/pids"
  echo "$3 $start" >"$LAB_DIR/pids/$1.$2"
  note "$1: $2 pid $3"
}

# recorded NAME KIND: print the recorded PID if that very process is still alive.
recorded() {
  local pid start now
  read -r pid start 2>/dev/null <"$LAB_DIR/pids/$1.$2" || return 1
  now=$(proc_start "$pid") || return 1
  [[ $now == "$start" ]] && echo "$pid"
}

# wait_gone PID...: wait until none of the PIDs is a live process.
all_gone() { local p; for p; do proc_start "$p" >/dev/null && return 1; done; return 0; }
wait_gone() { poll "$LAB_KILL_TIMEOUT" 0.05 all_gone "$@"; }

# Finding every process of the lab (for teardown)

# lab_pids NETNS...: live PIDs carrying this lab's marker in their environment or living in one
# of the given network namespaces; never this process or its ancestors.
lab_pids() {
  local -A skip=() found=()
  local p=$$ ppid f ino
  while [[ $p -gt 1 ]]; do
    skip[$p]=1
    ppid=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null) || break
    p=${ppid:-1}
  done
  skip[$BASHPID]=1
  for f in $(grep -lzxF "TANDEM_LAB=$LAB_DIR" /proc/[0-9]*/environ 2>/dev/null || true); do
    f=${f#/proc/}; found[${f%%/*}]=1
  done
  for ino; do
    for f in $(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/net' -lname "*\[$ino\]" 2>/dev/null || true); do
      f=${f#/proc/}; found[${f%%/*}]=1
    done
  done
  for p in "${!found[@]}"; do
    [[ -z ${skip[$p]:-} ]] && proc_start "$p" >/dev/null && echo "$p"
  done
  return 0
}

netns_ino() { local l; l=$(readlink "/proc/$1/ns/net") && l=${l#net:[} && echo "${l%]}"; }

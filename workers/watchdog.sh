# queuectl's watchdog (DESIGN.md, "Watchdog"): one per worker process, in a
# session of its own, reading what its supervisor tells it on stdin:
#   R <term_ms> <kill_ms>   the leases of every running job were renewed:
#                           end them all if no renewal follows in time
#   P <pgid> <start>        a job's process group and its leader's start time
#   E <pgid>                that job ended: forget its group
# A job is ended by its group (only while the leader's start time is the
# one given, so a reused pid is never hit) and by the run's cookie: every
# process whose environment holds QUEUECTL_RUN=<worker id>/… (see
# workers/proc_scan.ts), also those that left the group, and those of a job
# whose start the supervisor had not told yet.
# At the term deadline they get SIGTERM, at the kill deadline SIGKILL,
# scanning again until none is left. On end of file (the supervisor exited
# or died: the kernel closed its end) they get SIGTERM at once and SIGKILL
# at most $1 ms later, and the watchdog exits.
#
# Deadlines are kept on /proc/uptime (CLOCK_BOOTTIME, centiseconds): a step
# of the wall clock moves nothing. `read -t` waits with one pselect of a
# relative timeout, which a clock step does not change either.
#
# Arguments: <end-of-file grace ms> <supervisor pid> <worker id>
set -u
trap '' INT TERM HUP QUIT TSTP TTIN TTOU PIPE USR1 USR2

eof_grace_cs=$(((${1:-1000} + 9) / 10))
supervisor=${2:-?}
worker=${3:?worker id}
# The cookie's prefix as an anchored regular expression (every character escaped).
pattern="^QUEUECTL_RUN="
for ((i = 0; i < ${#worker}; i++)); do pattern+="[${worker:i:1}]"; done
pattern+="/"
declare -A start=()
term_at=0 # 0: no deadline
kill_at=0
termed=0
eof=0
now=0

clock() {
  local up
  read -r up _ </proc/uptime
  up=${up/./}
  now=$((10#$up))
}

say() {
  echo "queuectl watchdog of supervisor $supervisor: $*" >&2 || true
}

# The pids whose environment carries this worker's cookie, in `found`.
scan() {
  local f
  found=()
  while IFS= read -r f; do
    f=${f#/proc/}
    found+=("${f%/environ}")
  done < <(grep -lzE "$pattern" /proc/[0-9]*/environ 2>/dev/null)
}

# Sends signal $1 to every job: the groups known (leader checked), then every
# process with the cookie; SIGKILL scans again until none is left (a process
# just killed shows its environment until it has exited), boundedly.
signal_all() {
  local sig=$1 p stat fields round
  for p in "${!start[@]}"; do
    stat=
    read -r stat <"/proc/$p/stat" 2>/dev/null || continue
    read -ra fields <<<"${stat##*) }"
    [[ ${fields[19]-} == "${start[$p]}" ]] && kill -s "$sig" -- "-$p" 2>/dev/null
  done
  for ((round = 0; round < 200; round++)); do
    scan
    ((${#found[@]} > 0)) || break
    kill -s "$sig" "${found[@]}" 2>/dev/null
    [[ $sig == KILL ]] || break
    sleep 0.01
  done
  return 0
}

# Acts on a deadline passed; sets `wait` to the centiseconds until the next (0: none).
act() {
  wait=0
  ((kill_at > 0)) || return 0
  if ((now >= kill_at)); then
    ((eof)) || say "no lease renewal in time: SIGKILL to its jobs"
    signal_all KILL
    start=()
    term_at=0 kill_at=0 termed=0
    return 0
  fi
  if ((now >= term_at && !termed)); then
    ((eof)) || say "no lease renewal in time: SIGTERM to its jobs"
    signal_all TERM
    termed=1
  fi
  if ((termed)); then wait=$((kill_at - now)); else wait=$((term_at - now)); fi
  ((wait > 0)) || wait=1
}

handle() {
  case $kind in
    R)
      t=$((now + (a + 9) / 10))
      k=$((now + (b + 9) / 10))
      ((t > term_at)) && term_at=$t termed=0
      ((k > kill_at)) && kill_at=$k
      ;;
    P) start[$a]=$b ;;
    E) unset "start[$a]" ;;
  esac
}

while :; do
  clock
  act
  if ((eof)); then
    ((kill_at == 0)) && exit 0
    printf -v timeout '%d.%02d' $((wait / 100)) $((wait % 100))
    sleep "$timeout"
    continue
  fi
  if ((wait == 0)); then
    read -r kind a b
  else
    printf -v timeout '%d.%02d' $((wait / 100)) $((wait % 100))
    read -r -t "$timeout" kind a b
  fi
  rc=$?
  ((rc > 128)) && continue
  clock
  if ((rc != 0)); then
    # End of file: the supervisor is gone. Whatever carries its cookie ends now.
    eof=1
    scan
    if ((${#found[@]} > 0 || ${#start[@]} > 0)); then
      say "supervisor gone: ending its jobs"
      term_at=$now termed=0
      ((kill_at == 0 || kill_at > now + eof_grace_cs)) && kill_at=$((now + eof_grace_cs))
    else
      kill_at=0
    fi
    continue
  fi
  handle
  # Lines written together are read together, then acted on once.
  while read -r -t 0 && read -r kind a b; do handle; done
done

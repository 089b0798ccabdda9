# queuectl's watchdog (DESIGN.md, "Watchdog"): one per worker process, in a
# session of its own, reading what its supervisor tells it on stdin:
#   A <cookie> <term_ms> <kill_ms>   a job was handed to a slot: end it after these ms
#   P <cookie> <pgid> <start>        the job's process group and its leader's start time
#   E <cookie>                       the job ended: forget it
#   R <term_ms> <kill_ms>            every running job's lease was renewed: new deadlines
# At a job's term deadline its group (leader's start time checked) and every
# process carrying its cookie (QUEUECTL_RUN, see workers/proc_scan.ts) get
# SIGTERM; at its kill deadline SIGKILL, until none is left. On end of file
# (the supervisor exited or died: the kernel closed its end) every job still
# known gets SIGTERM, SIGKILL at most $1 ms later, and the watchdog exits.
#
# Deadlines are kept on /proc/uptime (CLOCK_BOOTTIME, in centiseconds): a
# step of the wall clock moves nothing. `read -t` waits with one pselect of
# a relative timeout, which a clock step does not change either.
#
# Arguments: <end-of-file grace ms> <supervisor pid (for messages)>
set -u
trap '' INT TERM HUP QUIT TSTP TTIN TTOU PIPE USR1 USR2

eof_grace_cs=$(((${1:-1000} + 9) / 10))
supervisor=${2:-?}
declare -A term_at=() kill_at=() pgid=() start=() termed=()
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

# The pids carrying one of the cookies given ("$@"), in `found`.
scan() {
  local args=() c f
  found=()
  for c in "$@"; do args+=(-e "QUEUECTL_RUN=$c"); done
  while IFS= read -r f; do
    f=${f#/proc/}
    found+=("${f%/environ}")
  done < <(grep -lzxF "${args[@]}" /proc/[0-9]*/environ 2>/dev/null)
}

# Sends signal $1 to the jobs named by the other arguments: their groups
# while the leader is the same process, then every process with their
# cookie; SIGKILL scans again until none is left (a process just killed
# shows its environment until it has exited), in a bounded number of rounds.
signal_jobs() {
  local sig=$1 c p stat fields round
  shift
  for c in "$@"; do
    p=${pgid[$c]-}
    [[ -n $p ]] || continue
    stat=
    read -r stat <"/proc/$p/stat" 2>/dev/null || continue
    read -ra fields <<<"${stat##*) }"
    [[ ${fields[19]-} == "${start[$c]}" ]] && kill -s "$sig" -- "-$p" 2>/dev/null
  done
  for ((round = 0; round < 200; round++)); do
    scan "$@"
    ((${#found[@]} > 0)) || break
    kill -s "$sig" "${found[@]}" 2>/dev/null
    [[ $sig == KILL ]] || break
    sleep 0.01
  done
}

forget() {
  local c
  for c in "$@"; do
    unset "term_at[$c]" "kill_at[$c]" "pgid[$c]" "start[$c]" "termed[$c]"
  done
}

# Acts on every deadline passed; sets `wait` to the centiseconds until the next (0: none).
act() {
  local c t k to_term=() to_kill=()
  wait=0
  for c in "${!kill_at[@]}"; do
    k=${kill_at[$c]}
    t=${term_at[$c]}
    if ((now >= k)); then
      to_kill+=("$c")
      continue
    fi
    if ((now >= t)) && [[ -z ${termed[$c]-} ]]; then
      to_term+=("$c")
      termed[$c]=1
      t=$k
    elif [[ -n ${termed[$c]-} ]]; then
      t=$k
    fi
    ((wait == 0 || t - now < wait)) && wait=$((t - now))
  done
  if ((${#to_term[@]} > 0)); then
    ((eof)) || say "no lease renewal in time: SIGTERM to ${#to_term[@]} job(s)"
    signal_jobs TERM "${to_term[@]}"
  fi
  if ((${#to_kill[@]} > 0)); then
    ((eof)) || say "no lease renewal in time: SIGKILL to ${#to_kill[@]} job(s)"
    signal_jobs KILL "${to_kill[@]}"
    forget "${to_kill[@]}"
  fi
  ((wait < 1 && ${#kill_at[@]} > 0)) && wait=1
  return 0
}

eof=0
while :; do
  clock
  act
  if ((eof)); then
    ((${#kill_at[@]} == 0)) && exit 0
    printf -v timeout '%d.%02d' $((wait / 100)) $((wait % 100))
    sleep "$timeout"
    continue
  fi
  if ((wait == 0)); then
    read -r kind a b c
  else
    printf -v timeout '%d.%02d' $((wait / 100)) $((wait % 100))
    read -r -t "$timeout" kind a b c
  fi
  rc=$?
  if ((rc > 128)); then continue; fi
  clock
  if ((rc != 0)); then
    eof=1
    if ((${#kill_at[@]} > 0)); then
      say "supervisor gone: ending ${#kill_at[@]} job(s)"
      for c in "${!kill_at[@]}"; do
        t=${term_at[$c]}
        k=${kill_at[$c]}
        ((t > now)) && term_at[$c]=$now
        ((k > now + eof_grace_cs)) && kill_at[$c]=$((now + eof_grace_cs))
      done
    fi
    continue
  fi
  case $kind in
    A)
      term_at[$a]=$((now + (b + 9) / 10))
      kill_at[$a]=$((now + (c + 9) / 10))
      ;;
    P)
      if [[ -n ${kill_at[$a]-} ]]; then
        pgid[$a]=$b
        start[$a]=$c
      fi
      ;;
    E)
      forget "$a"
      ;;
    R)
      t=$((now + (a + 9) / 10))
      k=$((now + (b + 9) / 10))
      for c in "${!kill_at[@]}"; do
        old=${term_at[$c]}
        ((t > old)) && term_at[$c]=$t && unset "termed[$c]"
        old=${kill_at[$c]}
        ((k > old)) && kill_at[$c]=$k
      done
      ;;
  esac
done

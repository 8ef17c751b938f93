"""The shell scripts `fixer capture` runs on the node: preflight, the capture itself, the cleanup.

Every value reaches the node through shlex.quote or as an int. The scripts are sent on the remote shell's
stdin (never spliced into a command line) as a function called on the last line, so a script cut off in
transit runs nothing.

The capture script: `mktemp -d` (0700), `timeout -s INT -k 5 <bound> tcpdump -i IF -s 0 -U --immediate-mode
[-Z root] -w DIR/capture.pcap FILTER` in the background, "listening" once tcpdump says so, a size watchdog
(SIGINT at --max-mb); it waits for `stop` on its stdin (end of file on stdin, i.e. the controller or the
connection gone, stops and cleans up too); tcpdump is stopped with SIGINT (it flushes and closes the file),
the file is streamed back on stdout framed by its byte count (at most --max-mb), the directory is removed
and the script says so. Its lines for the controller start with `MARK`.
"""

from __future__ import annotations

import re
import shlex

from fixer.capture.validate import CaptureSpec, check_interface

q = shlex.quote

LISTEN_TIMEOUT_S = 10.0  # tcpdump must say "listening on" within this
# tcpdump's kernel buffer (-B, KiB). In immediate mode (needed: without it a stop loses the packets of the last
# ring block) every ring slot holds a whole snapshot: with -s 0 on `any` that is 256 KiB, so the default 2 MiB
# ring has 8 slots and a burst of a few handshakes overflows it ("packets dropped by kernel", measured here).
# 32 MiB gives 128 slots, for the few seconds of a capture.
BUFFER_KIB = 32768
# the node's script waits at most hard_bound + this for the controller's `stop` (a controller gone silent while
# the connection stays up): then it stops tcpdump and removes its directory by itself
DEADMAN_SLACK_S = 60
MARK = "@@fixer-capture"
# what `mktemp -d -t fixer-capture.XXXXXXXX` makes (TMPDIR of a sane shape): the only path the cleanup removes
REMOTE_DIR_RE = re.compile(r"/(?:[A-Za-z0-9_.-]+/)*fixer-capture\.[A-Za-z0-9]{8}")

_PREFLIGHT = r"""fixer_main() {{
want={want}
found=
case $want in
  */*) if [ -f "$want" ] && [ -x "$want" ]; then found=$want; fi ;;
  *) found=$(PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin:/usr/bin:/bin" command -v "$want" 2>/dev/null) || found= ;;
esac
echo "tcpdump=$found"
t=$(PATH="$PATH:/usr/bin:/bin" command -v timeout 2>/dev/null) || t=
echo "timeout=$t"
echo "uid=$(id -u)"
name={name}
if [ -n "$name" ]; then
  getent ahosts "$name" 2>/dev/null | awk '{{ print "addr=" $1 }}' | sort -u | head -n 16
fi
}}
fixer_main </dev/null
"""

_CAPTURE = r"""set -u
say() {{ printf '{mark} %s\n' "$*"; }}
alive() {{
  [ -r "/proc/$1/stat" ] || return 1
  set -- $(cat "/proc/$1/stat" 2>/dev/null)
  case ${{3:-Z}} in Z|X) return 1 ;; esac
  return 0
}}
fixer_main() {{
umask 077
dir=$(mktemp -d -t fixer-capture.XXXXXXXX) || {{ say error tmpdir; return 0; }}
file=$dir/capture.pcap
tpid=
wpid=
cleanup() {{
  if [ -n "$wpid" ]; then kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; fi
  if [ -n "$tpid" ]; then kill -INT "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null; fi
  rm -rf -- "$dir"
}}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
say dir "$dir"
{timeout} -s INT -k 5 {bound} {tcpdump} -i {interface} -s 0 -B {buffer_kib} -U --immediate-mode -n {drop} \
  -w "$file" {filter} \
  </dev/null >/dev/null 2>"$dir/stderr" &
tpid=$!
i=0
until grep -q 'listening on' "$dir/stderr" 2>/dev/null; do
  if ! alive "$tpid"; then
    wait "$tpid"; rc=$?; tpid=
    say failed "$rc"; sed 's/^/{mark} stderr /' "$dir/stderr"; return 0
  fi
  i=$((i + 1))
  if [ "$i" -gt {listen_polls} ]; then say failed start-timeout; sed 's/^/{mark} stderr /' "$dir/stderr"; return 0; fi
  sleep 0.1
done
say listening
(
  while alive "$tpid"; do
    s=$(wc -c < "$file" 2>/dev/null) || s=0
    if [ "${{s:-0}}" -ge {max_bytes} ]; then kill -INT "$tpid" 2>/dev/null; say size-limit "$s"; exit 0; fi
    sleep 0.2
  done
  say exited
) </dev/null &
wpid=$!
cmd=$({timeout} -s KILL {deadman} head -n 1 2>/dev/null) || cmd=
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=
kill -INT "$tpid" 2>/dev/null; wait "$tpid"; rc=$?; tpid=
[ "$cmd" = stop ] || return 0
size=$(wc -c < "$file" 2>/dev/null) || size=0
say stopped "$rc" "${{size:-0}}"
sed 's/^/{mark} stderr /' "$dir/stderr"
n=${{size:-0}}
[ "$n" -le {max_bytes} ] || n={max_bytes}
say data "$n"
head -c "$n" "$file"
say end
rm -rf -- "$dir" && say removed
trap - EXIT
}}
fixer_main; exit 0
"""

_CLEANUP = """fixer_main() {{
i=0
while [ -e {dir} ] && [ "$i" -lt 20 ]; do rm -rf -- {dir}; [ -e {dir} ] || break; i=$((i + 1)); sleep 0.1; done
if [ -e {dir} ]; then echo left; else echo removed; fi
}}
fixer_main </dev/null
"""


def preflight_script(program: str, name: str | None) -> str:
    return _PREFLIGHT.format(want=q(program), name=q(name or ""))


def capture_script(spec: CaptureSpec, tcpdump: str, timeout_bin: str, filter_text: str, as_root: bool) -> str:
    return _CAPTURE.format(
        mark=MARK,
        timeout=q(timeout_bin),
        bound=int(spec.hard_bound),
        tcpdump=q(tcpdump),
        interface=q(check_interface(spec.interface)),
        drop="-Z root" if as_root else "",
        filter=q(filter_text),
        listen_polls=int(LISTEN_TIMEOUT_S * 10),
        buffer_kib=int(BUFFER_KIB),
        deadman=int(spec.hard_bound + DEADMAN_SLACK_S),
        max_bytes=int(spec.max_bytes),
    )


def cleanup_script(remote_dir: str) -> str:
    if REMOTE_DIR_RE.fullmatch(remote_dir) is None or {".", ".."} & set(remote_dir.split("/")):
        raise ValueError(f"refusing to remove {remote_dir!r}: not a fixer capture directory")
    return _CLEANUP.format(dir=q(remote_dir))


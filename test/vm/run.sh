#!/usr/bin/env bash
# Runs e2e test files inside a qemu VM booted on a Debian kernel (TCG: no KVM needed) and exits with
# their status. The guest's serial console is streamed here and kept in $PALISADE_VM_CACHE/last.log.
#   test/vm/run.sh [TEST_FILE...] [VITEST_OPTION...]   (default: test/e2e/kernel-hooks.test.ts)
#   e.g. test/vm/run.sh test/e2e/kernel-hooks.test.ts -t file_open
# Environment: PALISADE_VM_KERNEL (Debian kernel package), PALISADE_VM_MEM (MiB, 2048),
#   PALISADE_VM_CPUS (2), PALISADE_VM_TIMEOUT (s, 540), PALISADE_VM_ENV ("VAR=value ..." for the guest),
#   PALISADE_VM_APPEND (more kernel command line, e.g. "lsm=bpf,lockdown").
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${PALISADE_VM_CACHE:-/var/cache/palisade-vm}
log="$cache/last.log"
tests=("$@")
files=0
for t in "${tests[@]}"; do
  case "$t" in
    *.ts) [ -f "$t" ] || { echo "vm: no such test file: $t" >&2; exit 2; }; files=$((files + 1)) ;;
  esac
done
[ "$files" -gt 0 ] || tests=(test/e2e/kernel-hooks.test.ts "${tests[@]}")

command -v qemu-system-x86_64 >/dev/null || { echo "vm: qemu-system-x86_64 is missing: run ./scripts/setup.sh" >&2; exit 2; }
kernel=$(test/vm/kernel.sh)
initrd=$(test/vm/initramfs.sh "${tests[@]}")
echo "vm: $(basename "$kernel"), initramfs $(( $(stat -c %s "$initrd") / 1048576 )) MiB, tests: ${tests[*]}" >&2

start=$(date +%s%N)
# -no-reboot + panic=-1: a guest that dies (init exits, kernel panics) ends qemu instead of looping.
set +e
timeout "${PALISADE_VM_TIMEOUT:-540}" qemu-system-x86_64 \
  -accel tcg -cpu max -smp "${PALISADE_VM_CPUS:-2}" -m "${PALISADE_VM_MEM:-2048}" \
  -nodefaults -display none -no-reboot -serial stdio \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 ${PALISADE_VM_APPEND:-}" </dev/null 2>&1 \
  | tr -d '\r' | sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
wall="$((ms / 1000)).$(printf %03d $((ms % 1000)))"

status=$(sed -n 's/.*PALISADE-VM-EXIT \([0-9]*\).*/\1/p' "$log" | tail -1)
boot=$(sed -n 's/^PALISADE-VM-BEGIN.*uptime \([0-9.]*\)s/\1/p' "$log" | tail -1)
echo "vm: guest reached /init after ${boot:-?} s of guest uptime; whole run ${wall} s wall" >&2
if [ -z "$status" ]; then
  [ "$qemu_rc" = 124 ] && echo "vm: timed out after ${PALISADE_VM_TIMEOUT:-540} s" >&2
  echo "vm: the guest never reported a test status (qemu exit $qemu_rc): see $log" >&2
  exit 1
fi
exit "$status"

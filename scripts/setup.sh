#!/usr/bin/env bash
# Sets up everything Palisade needs on a Debian machine, then builds it:
# Debian packages (only those missing), npm packages, the native addon, the BPF objects, TypeScript.
# Safe to re-run: each step does nothing when its output is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (installs packages; the agent loads BPF programs)" >&2
  exit 1
fi

# The last three run the kernel VM suite (npm run test:vm, test/vm).
DEBS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make g++ iproute2 python3 qemu-system-x86 busybox-static cpio)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup: Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ -L node_modules ]; then
  # A worktree sharing another checkout's node_modules: npm ci would empty the shared folder
  # through the link (it did once) and break every checkout using it.
  step "node_modules links to $(readlink -f node_modules): left as it is"
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

addon=build/Release/palisade_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src binding.gyp -newer "$addon" 2>/dev/null | head -1)" ]; then
  step "native addon (node-gyp, system libbpf)"
  npx --no-install node-gyp rebuild --silent >/dev/null
fi

step "BPF objects (clang, vmlinux.h from /sys/kernel/btf/vmlinux)"
make -s -j"$(nproc)" -C bpf

step "TypeScript"
npx --no-install tsc -p tsconfig.json

# The agent's programs need these mounted; most hosts already have them.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

step "kernel for the VM suite (Debian package, cached in \${PALISADE_VM_CACHE:-/var/cache/palisade-vm})"
test/vm/kernel.sh >/dev/null

step "ready: ./bin/palisade agent"

#!/usr/bin/env bash
# Builds the VM's initramfs and prints its path. Two cpio archives, concatenated (the kernel unpacks
# them in order):
#   base  busybox, node and the shared libraries of node and the addon, the runtime node_modules.
#         Cached, keyed by what it is made of: rebuilt only when one of those changes.
#   app   this checkout's build (dist/, the addon, build/bpf), its sources, bin/, policies/, test/,
#         and /vm/args (vitest's arguments).
#         Rebuilt on every run (a few MB).
#   test/vm/initramfs.sh VITEST_ARG...
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${PALISADE_VM_CACHE:-/var/cache/palisade-vm}
mkdir -p "$cache"

addon=build/Release/palisade_native.node
for f in "$addon" build/bpf/generic-kprobe.bpf.o build/bpf/process.bpf.o dist/agent/cli/main.js; do
  [ -f "$f" ] || { echo "initramfs: $f is missing: run ./scripts/setup.sh (or npm run build) first" >&2; exit 1; }
done

node_bin=$(readlink -f "$(command -v node)")
busybox=$(command -v busybox)
modules=$(readlink -f node_modules)
# Binaries copied from the host, with every library ldd finds for them (ldd fails on static ones).
bins=("$node_bin" /usr/bin/dash "$busybox")
libs() { { ldd "$@" 2>/dev/null || true; } | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | sort -u; }

key=$( { cat test/vm/initramfs.sh package-lock.json; stat -c '%n %s %Y' "$node_bin" "$busybox" "${bins[@]}";
         libs "${bins[@]}" "$addon"; } | sha256sum | cut -c1-16)
base="$cache/base-$key.cpio"

if [ ! -f "$base" ]; then
  echo "initramfs: building the base image (node, busybox, node_modules): $base" >&2
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,vm,app}
  cp "$busybox" "$stage/bin/busybox"
  for applet in $("$busybox" --list); do
    [ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
  done
  cp "$node_bin" "$stage/usr/bin/node"
  cp /usr/bin/dash "$stage/usr/bin/dash"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
  printf 'root:x:0:\n' > "$stage/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$stage/etc/hosts"
  cp -a "$modules" "$stage/app/node_modules"
  # Build-time only, or unused by the agent and vitest: ~100 MB less RAM in the guest.
  # (@kubernetes/client-node is not imported yet: add it back here once the agent does.)
  ( cd "$stage/app/node_modules" &&
    rm -rf typescript node-gyp @types @kubernetes lightningcss lightningcss-* tar .cache &&
    find . \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -type f -delete )
  # The libraries of node, the addon and every native module left (rolldown's needs librt).
  mapfile -t natives < <(find "$stage/app/node_modules" -name '*.node' -type f)
  for lib in $(libs "${bins[@]}" "$addon" "${natives[@]}"); do
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$base.tmp"
  rm -f "$cache"/base-*.cpio
  mv "$base.tmp" "$base"
fi

app=$(mktemp -d)
trap 'rm -rf "$app"' EXIT
mkdir -p "$app/app/build/Release" "$app/app/build/bpf" "$app/vm"
cp test/vm/init "$app/init"
# Tests import the TypeScript sources as well as running the compiled agent.
cp -a dist bin policies test native tracing agent network package.json vitest.config.ts tsconfig.json "$app/app/"
cp "$addon" "$app/app/build/Release/"
cp build/bpf/*.o "$app/app/build/bpf/"
printf '%s\n' "$@" > "$app/vm/args"
printf '%s\n' ${PALISADE_VM_ENV:-} > "$app/vm/env"
(cd "$app" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$cache/app.cpio"
cat "$base" "$cache/app.cpio" > "$cache/initrd.cpio"
echo "$cache/initrd.cpio"

#!/usr/bin/env bash
# Prints the path of a cached Debian kernel image (vmlinuz) for the VM suite, downloading and
# unpacking the .deb on first use. Idempotent: a cached kernel is reused without touching apt.
#   test/vm/kernel.sh [PACKAGE]   PACKAGE: a Debian kernel package or metapackage
#                                 (default: $PALISADE_VM_KERNEL, else linux-image-cloud-amd64)
set -euo pipefail
pkg=${1:-${PALISADE_VM_KERNEL:-linux-image-cloud-amd64}}
cache=${PALISADE_VM_CACHE:-/var/cache/palisade-vm}
dir="$cache/kernels/$pkg"

if ! ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1; then
  # A metapackage (linux-image-cloud-amd64) only depends on the versioned image package.
  image=$(apt-cache depends "$pkg" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  image=${image:-$pkg}
  if ! apt-cache show "$image" >/dev/null 2>&1; then
    apt-get update -qq
    image=$(apt-cache depends "$pkg" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    image=${image:-$pkg}
  fi
  mkdir -p "$dir.tmp"
  # apt's _apt user cannot write into a root-owned cache: download as root.
  (cd "$dir.tmp" && apt-get download -qq -o APT::Sandbox::User=root "$image" >&2)
  dpkg-deb -x "$dir.tmp"/*.deb "$dir.tmp/root"
  rm -rf "$dir"
  mkdir -p "$dir"
  # Only the image and its config: the suite boots from an initramfs and loads no modules.
  mv "$dir.tmp/root/boot" "$dir/boot"
  rm -rf "$dir.tmp"
fi
ls "$dir"/boot/vmlinuz-* | head -1

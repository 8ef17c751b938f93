#!/usr/bin/env bash
# Everything fixer's demo and tests need on a fresh Debian machine (run as root): the lab's real
# OpenSSH, nginx, sudo, tcpdump and OpenSSL from apt; fixer itself with its dev tools from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pair in sshd:openssh-server nginx:nginx sudo:sudo tcpdump:tcpdump openssl:openssl ip:iproute2 \
            unshare:util-linux nsenter:util-linux; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[dev]'

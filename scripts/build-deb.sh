#!/usr/bin/env bash
# Builds the Debian package: target/debian/tt-dbproxy_<version>_<arch>.deb.
#
#   scripts/build-deb.sh                 # release build first
#   scripts/build-deb.sh BINARY [OUTDIR] # package a given binary (CI packages its test build)
#
# Contents: /usr/bin/tt-dbproxy, the systemd unit and the template unit for
# further instances (tt-dbproxy@NAME reads /etc/tt-dbproxy/NAME.toml),
# /etc/tt-dbproxy/tt-dbproxy.toml (a conffile: data_dir /var/lib/tt-dbproxy),
# the docs with an instance configuration example; postinst creates the
# tt-dbproxy system user owning /var/lib/tt-dbproxy.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
out=${2:-$PWD/target/debian}
if [ -z "$bin" ]; then
    cargo build --release --locked --bin tt-dbproxy
    bin=$PWD/target/release/tt-dbproxy
fi
version=$(awk -F'"' '/^version = / {print $2; exit}' Cargo.toml)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$bin" "$root/usr/bin/tt-dbproxy"
install -D -m 0644 packaging/tt-dbproxy.service "$root/lib/systemd/system/tt-dbproxy.service"
install -D -m 0644 packaging/tt-dbproxy@.service "$root/lib/systemd/system/tt-dbproxy@.service"
install -D -m 0644 packaging/tt-dbproxy.toml "$root/etc/tt-dbproxy/tt-dbproxy.toml"
for doc in README.md docs/config.md docs/operations.md docs/reliability.md docs/ha.md; do
    install -D -m 0644 "$doc" "$root/usr/share/doc/tt-dbproxy/$(basename "$doc")"
done
install -D -m 0644 packaging/instance-example.toml "$root/usr/share/doc/tt-dbproxy/instance-example.toml"
install -D -m 0644 deploy/prometheus/tt-dbproxy-rules.yml "$root/usr/share/doc/tt-dbproxy/prometheus/tt-dbproxy-rules.yml"
install -D -m 0644 deploy/grafana/tt-dbproxy.json "$root/usr/share/doc/tt-dbproxy/grafana/tt-dbproxy.json"
install -d "$root/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/tt-dbproxy/tt-dbproxy.toml >"$root/DEBIAN/conffiles"
size=$(du -ks "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: tt-dbproxy
Version: $version
Architecture: $arch
Maintainer: tt-dbproxy developers <tt-dbproxy@localhost>
Installed-Size: $size
Depends: adduser, libc6
Section: net
Priority: optional
Homepage: https://github.com/teamtalk/tt-dbproxy
Description: drop-in replacement for TeamTalk's db_proxy_server
 Speaks TeamTalk's PDU protocol on the same port with the same protobuf
 messages, against an embedded SQLite store or the original MySQL tables
 and Redis keys. Comes with a systemd unit (Type=notify, hardened) and a
 template unit for further instances on the same host.
CONTROL
mkdir -p "$out"
deb=$out/tt-dbproxy_${version}_${arch}.deb
# DEB_COMPRESSION=gzip for quick test builds of a large debug binary.
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"

#!/usr/bin/env bash
# Checks the Debian package the way an administrator meets it: builds it (or takes the .deb
# given as the first argument), runs lintian, installs it with dpkg -i, checks its files, the
# system user, the binary, the units (systemd-analyze verify and security), upgrades it over
# itself with an edited conffile, a configuration and a key that must all be kept, removes it,
# purges it, and checks that nothing of it is left but the system user (kept on purge, as
# Debian packages do). Prints the package's size and dpkg's install time.
#
# Run as root on a Debian machine, alone: it installs and purges tim-account-exporter. Needs
# dpkg, adduser, lintian and systemd-analyze (package systemd); no running systemd is needed,
# as the maintainer scripts only make the units' symlinks without it.
set -euo pipefail
cd "$(dirname "$0")/../.."

PKG=tim-account-exporter
CONF=/etc/$PKG
UNIT_DIR=/usr/lib/systemd/system

fail() {
  echo "check-package: FAILED: $*" >&2
  exit 1
}
ok() { echo "check-package: ok: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root: the check installs and purges the package"
for tool in dpkg dpkg-deb adduser lintian systemd-analyze setpriv; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done

deb="${1:-}"
if [ -z "$deb" ]; then
  # cargo deb prints the package's path last.
  deb="$(deploy/debian/build-package.sh | tail -n 1)"
fi
[ -f "$deb" ] || fail "no package at '$deb'"
echo "check-package: $deb"

# Anything of the package where a package or its scripts write, by name: its files, its
# dpkg and deb-systemd-helper records, the units' symlinks. Source trees, build folders and
# temporary folders, which other work may change meanwhile, are left out.
leftovers() {
  local dir
  for dir in /etc /usr /var /opt /srv; do
    [ ! -d "$dir" ] || find "$dir" -xdev -path /var/tmp -prune -o -name "*$PKG*" -print
  done | sort
}

# A package left by an interrupted run goes first.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
  dpkg --purge "$PKG" >/dev/null
fi
before="$(leftovers)"

# ---- lintian ----
lintian_out="$(lintian --display-info --fail-on error,warning "$deb" 2>&1)" ||
  fail "lintian:"$'\n'"$lintian_out"
echo "${lintian_out:-(lintian: no tag)}"
ok "lintian: no error, no warning"

# ---- contents ----
contents="$(dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./|/|')"
for path in /usr/bin/$PKG $UNIT_DIR/$PKG.service $UNIT_DIR/$PKG.socket /etc/default/$PKG \
  /usr/share/doc/$PKG/examples/config.example.yaml /usr/share/doc/$PKG/examples/web-config.conf \
  /usr/share/doc/$PKG/copyright \
  /usr/share/doc/$PKG/changelog.Debian.gz /usr/share/doc/$PKG/changelog.gz \
  /usr/share/man/man1/$PKG.1.gz /usr/share/bash-completion/completions/$PKG \
  /usr/share/zsh/vendor-completions/_$PKG /usr/share/fish/vendor_completions.d/$PKG.fish; do
  grep -qx "$path" <<<"$contents" || fail "the package lacks $path"
done
if grep -q 'tim-im-sim' <<<"$contents"; then fail "the simulator is in the package"; fi
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = "/etc/default/$PKG" ] ||
  fail "conffiles is not just /etc/default/$PKG"
ok "contents, conffiles"

# ---- install ----
start=$(date +%s.%N)
install_out="$(dpkg -i "$deb" 2>&1)" || fail "dpkg -i:"$'\n'"$install_out"
install_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
[ "$(dpkg-query -W -f='${Status}' $PKG)" = "install ok installed" ] || fail "not installed"
grep -q "starts once $CONF/config.yaml exists" <<<"$install_out" ||
  fail "the installation does not say what to do:"$'\n'"$install_out"

version_out="$(/usr/bin/$PKG --version)"
[ "$version_out" = "$PKG $(dpkg-query -W -f='${Version}' $PKG | cut -d- -f1)" ] ||
  fail "--version says '$version_out'"
[ ! -e /usr/bin/tim-im-sim ] || fail "tim-im-sim is installed"
zcat /usr/share/man/man1/$PKG.1.gz | grep -q "^\.TH $PKG 1 " || fail "man page"
head -n 1 /usr/share/doc/$PKG/copyright |
  grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
  fail "copyright is not in the Debian format"
ok "installed in ${install_seconds}s: $version_out"

# The user and group: a system account, no login, no home.
IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd $PKG)" || fail "no user $PKG"
[ "$uid" -lt 1000 ] || fail "uid $uid is not a system uid"
[ "$(getent group $PKG | cut -d: -f3)" = "$gid" ] || fail "the group $PKG is not the user's"
[ "$shell" = /usr/sbin/nologin ] || fail "shell $shell"
[ ! -e "$home" ] || fail "home $home exists"
ok "user $PKG: uid $uid, home $home (absent), shell $shell"

# The folders, and no key or configuration made by the package.
[ "$(stat -c '%a %U %G' $CONF)" = "750 root $PKG" ] || fail "$CONF: $(stat -c '%a %U %G' $CONF)"
[ "$(stat -c '%a %U %G' $CONF/keys)" = "700 root root" ] || fail "$CONF/keys"
[ -z "$(ls -A $CONF/keys)" ] || fail "the package put something in $CONF/keys"
[ ! -e $CONF/config.yaml ] || fail "the package wrote $CONF/config.yaml"
ok "$CONF (0750 root:$PKG), $CONF/keys (0700 root) empty"

# The units: the service enabled (its symlink, made without a running systemd), the socket
# not; both verify, and the service's exposure stays at most 2.0.
wants=/etc/systemd/system/multi-user.target.wants/$PKG.service
[ "$(readlink -f $wants)" = "$(readlink -f $UNIT_DIR/$PKG.service)" ] || fail "$wants"
[ ! -e /etc/systemd/system/sockets.target.wants/$PKG.socket ] || fail "the socket is enabled"
grep -qx "ExecStart=/usr/bin/$PKG --config.file=$CONF/config.yaml \$WEB_CONFIG \$ARGS" $UNIT_DIR/$PKG.service ||
  fail "ExecStart"
verify_out="$(systemd-analyze verify $UNIT_DIR/$PKG.service $UNIT_DIR/$PKG.socket 2>&1)" ||
  fail "systemd-analyze verify:"$'\n'"$verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify:"$'\n'"$verify_out"
exposure="$(systemd-analyze security --offline=true --no-pager $UNIT_DIR/$PKG.service |
  sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' || fail "exposure '$exposure'"
ok "service enabled, socket not; units verify; exposure $exposure"

# ---- the administrator's steps (README), then an upgrade over itself ----
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
install -m 0600 /dev/stdin $CONF/keys/prod-sg.key <<<"$key"
install -m 0640 -g $PKG /dev/stdin $CONF/config.yaml <<'YAML'
apps:
  - name: prod-sg
    sdkappid: 1400000000
    region: singapore
    admin: administrator
    secret_key_file: ${CREDENTIALS_DIRECTORY}/prod-sg.key
    watchlists:
      - name: ops-bots
        user_ids: [ops_bot]
YAML
echo 'ARGS="--log.format=json"' >>/etc/default/$PKG
# The service's user reads the configuration as systemd would run it, the key in a
# credentials folder of its own.
credentials="$(mktemp -d)"
install -m 0400 -o $PKG $CONF/keys/prod-sg.key "$credentials/prod-sg.key"
chown $PKG "$credentials"
check_out="$(setpriv --reuid=$PKG --regid=$PKG --clear-groups \
  env CREDENTIALS_DIRECTORY="$credentials" /usr/bin/$PKG --config.check \
  --config.file=$CONF/config.yaml 2>&1)" || fail "--config.check as $PKG:"$'\n'"$check_out"
rm -rf "$credentials"
grep -q "$key" <<<"$check_out" && fail "--config.check printed the key"
ok "the service's user reads the configuration: $check_out"

sums_before="$(sha256sum /etc/default/$PKG $CONF/config.yaml $CONF/keys/prod-sg.key)"
modes_before="$(stat -c '%n %a %U %G' $CONF $CONF/keys $CONF/config.yaml $CONF/keys/prod-sg.key)"
upgrade_out="$(dpkg -i "$deb" 2>&1)" || fail "the upgrade:"$'\n'"$upgrade_out"
[ "$(sha256sum /etc/default/$PKG $CONF/config.yaml $CONF/keys/prod-sg.key)" = "$sums_before" ] ||
  fail "the upgrade changed an edited or written file"
[ "$(stat -c '%n %a %U %G' $CONF $CONF/keys $CONF/config.yaml $CONF/keys/prod-sg.key)" = "$modes_before" ] ||
  fail "the upgrade changed modes"
[ -z "$(find /etc -name "$PKG*.dpkg-*")" ] || fail "the upgrade left .dpkg-* files"
[ "$(id -u $PKG)" = "$uid" ] || fail "the upgrade changed the user"
[ -e "$wants" ] || fail "the upgrade disabled the service"
grep -q "starts once" <<<"$upgrade_out" && fail "the upgrade asks for a configuration that exists"
ok "upgrade over itself: the edited conffile, the configuration and the key kept"

# ---- remove, then purge ----
dpkg -r $PKG >/dev/null
[ "$(dpkg-query -W -f='${Status}' $PKG)" = "deinstall ok config-files" ] || fail "remove"
for path in /usr/bin/$PKG $UNIT_DIR/$PKG.service $UNIT_DIR/$PKG.socket; do
  [ ! -e "$path" ] || fail "remove left $path"
done
for path in /etc/default/$PKG $CONF/config.yaml $CONF/keys/prod-sg.key; do
  [ -f "$path" ] || fail "remove took $path"
done
ok "remove: the program gone, the configuration and keys kept"

dpkg --purge $PKG >/dev/null
if dpkg-query -W -f='${Status}' $PKG 2>/dev/null | grep -qv 'not-installed'; then
  fail "still known to dpkg after purge"
fi
after="$(leftovers)"
[ "$after" = "$before" ] || fail "purge left:"$'\n'"$(comm -13 <(echo "$before") <(echo "$after"))"
getent passwd $PKG >/dev/null || fail "purge removed the system user (Debian keeps it)"
ok "purge: nothing left but the system user $PKG, kept as Debian packages do"

size=$(stat -c %s "$deb")
echo "check-package: package $(basename "$deb"): $((size / 1024)) KiB," \
  "installed size $(dpkg-deb -f "$deb" Installed-Size) KiB, dpkg -i in ${install_seconds}s"

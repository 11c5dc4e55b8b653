#!/usr/bin/env bash
# Builds the training image (training/Dockerfile) without a Docker engine, with Debian's
# buildah on a base made by debootstrap: the way `make image` and the image tests build it.
#
#   training/image/build.sh [IMAGE]        IMAGE defaults to localhost/diamonds-training:latest
#
# The base (Debian minbase + python3, its venv module, CA certificates and LightGBM's OpenMP
# runtime) is made once, kept as a tar file in ~/.cache/diamonds-image and imported into
# podman's storage as localhost/diamonds-base:SUITE. To take Debian's latest packages, delete
# both: `podman rmi localhost/diamonds-base:bookworm; rm -r ~/.cache/diamonds-image`.
# buildah's layer cache makes later builds fast: a code change rebuilds only the last layers.
# Needs root and Debian's buildah, podman, runc and debootstrap.
set -euo pipefail

image=${1:-localhost/diamonds-training:latest}
suite=bookworm # its python3 is 3.11, as pyproject.toml requires
packages=python3,python3-venv,ca-certificates,libgomp1
cache=${DIAMONDS_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diamonds-image}
base=localhost/diamonds-base:$suite
ca_bundle=/etc/ssl/certs/ca-certificates.crt
repo=$(cd "$(dirname "$0")/../.." && pwd)

for tool in buildah podman debootstrap; do
  if ! command -v "$tool" >/dev/null; then
    echo "build.sh: $tool is missing: apt-get install buildah podman runc debootstrap" >&2
    exit 2
  fi
done

# The Debian archive that this machine's own apt sources name for the suite.
archive() {
  # shellcheck disable=SC2016 # $(...) are apt's placeholders
  apt-get indextargets --format '$(RELEASE) $(REPO_URI)' |
    awk -v suite="$suite" '$1 == suite { print $2; exit }'
}

make_base() {
  local url
  url=$(archive)
  if [[ -z $url ]]; then
    echo "build.sh: no apt source names Debian $suite; add one to /etc/apt/sources.list.d" >&2
    exit 2
  fi
  mkdir -p "$cache"
  root=$(mktemp -d "$cache/root.XXXXXX")
  trap 'rm -rf "$root" "$cache/$suite.tar.part"' EXIT
  echo "build.sh: making the $suite base from $url (a few minutes, once)" >&2
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$url" >&2
  # As Debian's slim images: no package cache, indexes, manuals or translations.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/{man,info,locale}/*
  find "$root/usr/share/doc" -type f ! -name copyright -delete
  tar -C "$root" -c . >"$cache/$suite.tar.part"
  mv "$cache/$suite.tar.part" "$cache/$suite.tar"
}

if ! podman image exists "$base"; then
  [[ -f $cache/$suite.tar ]] || make_base
  podman import --quiet "$cache/$suite.tar" "$base" >/dev/null
fi

revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || true)
if [[ -n $revision && -n $(git -C "$repo" status --porcelain -- training pyproject.toml) ]]; then
  revision+="-dirty"
fi
# Where the code comes from, without any credentials the remote's URL may hold.
source=$(git -C "$repo" remote get-url origin 2>/dev/null | sed -E 's#//[^/@]*@#//#' || true)
volumes=()
if [[ -f $ca_bundle ]]; then
  # pip in a RUN step trusts what this machine trusts, e.g. a proxy's own certificate authority.
  volumes=(--volume "$ca_bundle:$ca_bundle:ro")
fi

# Labels as options, not build arguments: buildah 1.28's layer cache would keep the LABEL step
# of an earlier build when only a build argument differs.
buildah bud --isolation chroot --pull=never --layers "${volumes[@]}" --build-arg BASE="$base" \
  --label org.opencontainers.image.source="$source" \
  --label org.opencontainers.image.revision="$revision" \
  --file "$repo/training/Dockerfile" --tag "$image" "$repo"

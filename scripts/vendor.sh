#!/usr/bin/env bash
# Copy the pinned front-end libraries from node_modules into static/vendor,
# and bundle the published maps' popup script.
# Run after `npm ci`; safe to run again (the target is rebuilt each time).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/node_modules"
dst="$root/static/vendor"

if [ ! -d "$src/leaflet" ]; then
    echo "vendor.sh: $src/leaflet is missing; run 'npm ci' first" >&2
    exit 1
fi

# Build beside the target and swap, so a failed copy never leaves half a tree.
tmp="$(mktemp -d "$root/static/.vendor.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

copy() {
    local pkg="$1" name="$2"
    shift 2
    mkdir -p "$tmp/$name"
    for file in "$@"; do
        cp -R "$src/$pkg/$file" "$tmp/$name/"
    done
}

# Licence files travel with the code they cover.
copy leaflet leaflet \
    dist/leaflet.js dist/leaflet.js.map dist/leaflet.css dist/images LICENSE
copy leaflet.markercluster leaflet.markercluster \
    dist/leaflet.markercluster.js dist/leaflet.markercluster.js.map \
    dist/MarkerCluster.css dist/MarkerCluster.Default.css MIT-LICENCE.txt
copy @geoman-io/leaflet-geoman-free leaflet-geoman \
    dist/leaflet-geoman.min.js dist/leaflet-geoman.min.js.map dist/leaflet-geoman.css LICENSE
copy chart.js chart.js dist/chart.umd.min.js dist/chart.umd.min.js.map LICENSE.md

# A published map is one file opened anywhere: it carries the public map's
# popup code (static/js) bundled into a single script.
mkdir -p "$tmp/vung"
"$src/.bin/esbuild" "$root/static/js/published.js" --bundle --format=iife --global-name=VungPopup \
    --target=es2020 --minify --legal-comments=none --log-level=warning --outfile="$tmp/vung/published-popup.js"

chmod -R u+rwX,go+rX "$tmp"
rm -rf "$dst"
mv "$tmp" "$dst"
trap - EXIT
echo "vendor.sh: libraries copied to $dst"

#!/usr/bin/env bash
# Vendor the front-end libraries SEGIS serves itself into static/vendor/.
#
# SEGIS is deployed on intranets without internet access, so no page may load
# anything from a CDN.  This script fetches pinned npm packages (with `npm pack`,
# into a throw-away temp directory: no node_modules, no package.json in the repo),
# copies only the dist files that are needed, and writes a VERSION and LICENSE
# file next to them.
#
# Idempotent: every managed directory under static/vendor/ is rebuilt from
# scratch, so running it twice gives the same tree.  To upgrade a library, bump
# its pin below, run the script, and review the diff (see docs/frontend-assets.md).
#
# Usage: scripts/vendor-assets.sh            (from anywhere)
#        PYTHON=/path/to/python scripts/vendor-assets.sh
#
# Needs: npm (registry reachable), tar, and the project's Python environment
# (by default .venv/bin/python), which is used to cross-check the OpenLayers
# version against Django's GIS widget and to copy folium's patched heatmap build.
set -euo pipefail

# --- Pins ------------------------------------------------------------------
LEAFLET_VERSION="1.9.4"          # latest 1.9.x
MARKERCLUSTER_VERSION="1.5.3"    # latest 1.5.x (leaflet.markercluster)
LEAFLET_HEAT_VERSION="0.2.0"     # latest 0.2.x (leaflet.heat)
# Must match django/contrib/gis/forms/widgets.py (OpenLayersWidget.Media):
# Django 5.2 links ol@v7.2.2 (dist/ol.js, ol.css) from a CDN; the vendored copy must be that version.
OL_VERSION="7.2.2"
# folium's Popup and Map.keep_in_front() call jQuery's `$`; this is the version
# folium 0.20 itself loads.
JQUERY_VERSION="3.7.1"
# The supervisor's map page (/map/, static/js/segis-map.js).  5.x is the last line
# with a UMD build (dist/maplibre-gl.js, `window.maplibregl`); 6.x is ES modules only.
# 5.x also draws every label with the browser's own fonts when a style sets no
# `glyphs` URL, which is how the page shows Chinese names offline (no glyph PBFs).
MAPLIBRE_VERSION="5.24.1"        # latest 5.x
# The analysis desk's charts and choropleth (/analysis/, static/js/segis-analysis.js): the
# minified UMD build (`window.echarts`), one file with every chart type and the geo component.
ECHARTS_VERSION="6.1.0"          # latest 6.x
# The offline street base map (docs/basemap.md): the `pmtiles://` protocol that reads a PMTiles
# archive by HTTP range requests (dist/pmtiles.js, IIFE, global `pmtiles`), and the Protomaps
# basemap style's layers for its tiles (dist/basemaps.js, IIFE, global `basemaps`). Neither npm
# package has a licence file: scripts/licenses/ holds their repositories' LICENSE.
PMTILES_VERSION="4.5.0"          # latest 4.x
PROTOMAPS_BASEMAPS_VERSION="5.7.2"  # latest 5.x (tiles of the Protomaps v4 schema)
# ---------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/static/vendor"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

die() { echo "vendor-assets: error: $*" >&2; exit 1; }
log() { echo "vendor-assets: $*"; }

command -v npm >/dev/null || die "npm not found"
command -v tar >/dev/null || die "tar not found"
[ -x "$PYTHON" ] || die "python not found at $PYTHON (set PYTHON=...)"

# Cross-check the OpenLayers pin against the installed Django (read the file as
# text: importing django.contrib.gis would need GDAL).
django_ol="$("$PYTHON" - <<'EOF'
import importlib.util, pathlib, re
spec = importlib.util.find_spec("django")
path = pathlib.Path(spec.origin).parent / "contrib/gis/forms/widgets.py"
m = re.search(r"npm/ol@v?([0-9][0-9A-Za-z.\-]*)/dist/ol\.js", path.read_text())
print(m.group(1) if m else "")
EOF
)"
[ -n "$django_ol" ] || die "could not find the OpenLayers version in Django's gis/forms/widgets.py"
[ "$django_ol" = "$OL_VERSION" ] ||
  die "Django's OpenLayersWidget uses ol $django_ol but OL_VERSION=$OL_VERSION; update the pin"

# folium ships a patched Leaflet.heat build (folium/templates/leaflet_heat.min.js,
# Leaflet.heat PR #78: intensity normalised to the largest cell instead of
# clamped at 1) that folium.plugins.HeatMap is written for.
read -r FOLIUM_VERSION FOLIUM_HEAT < <("$PYTHON" - <<'EOF'
import importlib.metadata, importlib.util, pathlib
spec = importlib.util.find_spec("folium")
heat = pathlib.Path(spec.origin).parent / "templates" / "leaflet_heat.min.js"
print(importlib.metadata.version("folium"), heat)
EOF
) || die "folium is not installed in $PYTHON"
[ -f "$FOLIUM_HEAT" ] || die "folium's $FOLIUM_HEAT is missing"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/segis-vendor.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# fetch NAME VERSION -> prints the directory holding the unpacked package/
fetch() {
  local name="$1" version="$2" dir="$TMP/$1" tgz
  mkdir -p "$dir"
  # `npm pack` verifies the tarball against the registry's integrity hash.
  tgz="$(cd "$dir" && npm pack --silent --ignore-scripts --pack-destination "$dir" "$name@$version" | tail -n1)"
  [ -f "$dir/$tgz" ] || die "npm pack $name@$version failed"
  tar -xzf "$dir/$tgz" -C "$dir"
  local got
  got="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dir/package/package.json")"
  [ "$got" = "$version" ] || die "$name: expected $version, got $got"
  echo "$dir/package"
}

# fresh NAME -> recreates static/vendor/NAME and prints it
fresh() {
  local out="$DEST/$1"
  rm -rf "$out"
  mkdir -p "$out"
  echo "$out"
}

# We do not ship source maps, so drop the comments pointing at them (browsers
# would 404 on them, and Django's ManifestStaticFilesStorage makes collectstatic
# fail on a sourceMappingURL whose target is missing).
strip_sourcemap() {
  local f
  for f in "$@"; do
    sed -i -E -e '/^\/\/# sourceMappingURL=.*$/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$f"
  done
}

mkdir -p "$DEST"

# --- leaflet ---------------------------------------------------------------
pkg="$(fetch leaflet "$LEAFLET_VERSION")"
out="$(fresh leaflet)"
cp "$pkg/dist/leaflet.js" "$pkg/dist/leaflet.css" "$out/"
mkdir -p "$out/images"
cp "$pkg"/dist/images/*.png "$out/images/"   # referenced by leaflet.css as images/...
cp "$pkg/LICENSE" "$out/LICENSE"
echo "$LEAFLET_VERSION" >"$out/VERSION"
strip_sourcemap "$out/leaflet.js" "$out/leaflet.css"
log "leaflet $LEAFLET_VERSION"

# --- leaflet.markercluster -------------------------------------------------
pkg="$(fetch leaflet.markercluster "$MARKERCLUSTER_VERSION")"
out="$(fresh leaflet.markercluster)"
cp "$pkg/dist/leaflet.markercluster.js" "$pkg/dist/MarkerCluster.css" \
  "$pkg/dist/MarkerCluster.Default.css" "$out/"
cp "$pkg/MIT-LICENCE.txt" "$out/LICENSE"
echo "$MARKERCLUSTER_VERSION" >"$out/VERSION"
strip_sourcemap "$out"/*.js "$out"/*.css
log "leaflet.markercluster $MARKERCLUSTER_VERSION"

# --- leaflet.heat ----------------------------------------------------------
pkg="$(fetch leaflet.heat "$LEAFLET_HEAT_VERSION")"
out="$(fresh leaflet.heat)"
cp "$pkg/dist/leaflet-heat.js" "$out/"              # upstream build (bundles simpleheat)
cp "$FOLIUM_HEAT" "$out/leaflet-heat-folium.js"     # folium's patched build (used by maps/offline.py)
cp "$pkg/LICENSE" "$out/LICENSE"
{
  echo "$LEAFLET_HEAT_VERSION"
  echo "leaflet-heat-folium.js: folium $FOLIUM_VERSION folium/templates/leaflet_heat.min.js (Leaflet.heat + PR #78 weights fix)"
} >"$out/VERSION"
strip_sourcemap "$out"/*.js
log "leaflet.heat $LEAFLET_HEAT_VERSION (+ folium $FOLIUM_VERSION patched build)"

# --- ol (OpenLayers, UMD build for Django's GIS admin widget) --------------
pkg="$(fetch ol "$OL_VERSION")"
out="$(fresh ol)"
cp "$pkg/dist/ol.js" "$pkg/ol.css" "$out/"
cp "$pkg/LICENSE.md" "$out/LICENSE"
echo "$OL_VERSION" >"$out/VERSION"
strip_sourcemap "$out/ol.js" "$out/ol.css"
log "ol $OL_VERSION"

# --- jquery ----------------------------------------------------------------
pkg="$(fetch jquery "$JQUERY_VERSION")"
out="$(fresh jquery)"
cp "$pkg/dist/jquery.min.js" "$out/"
cp "$pkg/LICENSE.txt" "$out/LICENSE"
echo "$JQUERY_VERSION" >"$out/VERSION"
strip_sourcemap "$out/jquery.min.js"
log "jquery $JQUERY_VERSION"

# --- maplibre-gl (UMD build: the worker is inlined as a blob, no extra file) -
pkg="$(fetch maplibre-gl "$MAPLIBRE_VERSION")"
out="$(fresh maplibre-gl)"
cp "$pkg/dist/maplibre-gl.js" "$pkg/dist/maplibre-gl.css" "$out/"
cp "$pkg/LICENSE.txt" "$out/LICENSE"
echo "$MAPLIBRE_VERSION" >"$out/VERSION"
strip_sourcemap "$out/maplibre-gl.js" "$out/maplibre-gl.css"
log "maplibre-gl $MAPLIBRE_VERSION"

# --- echarts (UMD build, global `echarts`) ----------------------------------
pkg="$(fetch echarts "$ECHARTS_VERSION")"
out="$(fresh echarts)"
cp "$pkg/dist/echarts.min.js" "$out/"
cp "$pkg/LICENSE" "$out/LICENSE"
echo "$ECHARTS_VERSION" >"$out/VERSION"
strip_sourcemap "$out/echarts.min.js"
log "echarts $ECHARTS_VERSION"

# --- pmtiles (IIFE build, global `pmtiles`) ---------------------------------
pkg="$(fetch pmtiles "$PMTILES_VERSION")"
out="$(fresh pmtiles)"
cp "$pkg/dist/pmtiles.js" "$out/"
cp "$ROOT/scripts/licenses/pmtiles.LICENSE" "$out/LICENSE"
echo "$PMTILES_VERSION" >"$out/VERSION"
strip_sourcemap "$out/pmtiles.js"
log "pmtiles $PMTILES_VERSION"

# --- @protomaps/basemaps (IIFE build, global `basemaps`) -------------------
# No glyphs and no sprites: segis-map.js draws the labels with the browser's fonts and leaves
# out the style's icons (docs/basemap.md).
pkg="$(fetch @protomaps/basemaps "$PROTOMAPS_BASEMAPS_VERSION")"
out="$(fresh protomaps-basemaps)"
cp "$pkg/dist/basemaps.js" "$out/"
cp "$ROOT/scripts/licenses/protomaps-basemaps.LICENSE" "$out/LICENSE"
echo "$PROTOMAPS_BASEMAPS_VERSION" >"$out/VERSION"
strip_sourcemap "$out/basemaps.js"
log "@protomaps/basemaps $PROTOMAPS_BASEMAPS_VERSION"

# Nothing under static/vendor may point at another host for code or styles.
# (Inline `url("data:image/svg+xml,…xmlns='http://www.w3.org/2000/svg'…")` icons, as in
# maplibre-gl.css, name the SVG namespace and load nothing: only a URL that starts
# with a scheme or // counts.)
if grep -rIlE --include='*.css' "url\\([[:space:]]*[\"']?[[:space:]]*(https?:)?//|@import[^;]*(https?:)?//" "$DEST"; then
  die "a vendored stylesheet references an external URL (see above)"
fi

log "done: $(du -sh "$DEST" | cut -f1) in $DEST"

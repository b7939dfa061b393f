#!/usr/bin/env bash
# Installs what the real-viewer test (test/e2e/ohif-viewer.test.ts) needs:
#  - Debian `chromium` (as root, when missing; otherwise a warning and the test skips itself);
#  - OHIF's prebuilt viewer from npm (`npm pack @ohif/app@$OHIF_VERSION`, about 50 MB packed), unpacked into
#    .cache/ohif/$OHIF_VERSION/dist (gitignored) and patched to live under /ohif next to Orthanc's DICOMweb
#    (served by Orthanc's ServeFolders plugin on the same origin; see ../shared/docs/viewer-testing.md).
# Idempotent: a finished, patched dist carries a .patched-ohif marker and is left alone.
set -euo pipefail
OHIF_VERSION="${OHIF_VERSION:-3.13.2}"
PREFIX=/ohif
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/ohif"
target="$cache/$OHIF_VERSION"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "ensure-viewer: installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  else
    echo "ensure-viewer: chromium missing (apt-get install -y chromium as root); the real-viewer test will skip" >&2
  fi
fi

[ -e "$target/dist/.patched-ohif" ] && exit 0

echo "ensure-viewer: fetching @ohif/app@$OHIF_VERSION into $target" >&2
mkdir -p "$cache"
work="$(mktemp -d "$cache/.tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "@ohif/app@$OHIF_VERSION" --silent >/dev/null)
tar -xzf "$work"/ohif-app-*.tgz -C "$work" package/dist
dist="$work/package/dist"
# Source maps are not needed to run it (38 MB).
find "$dist" -name '*.map' -delete

# The dist is built for "/": move every absolute reference under $PREFIX.
sed -i -e "s#window.PUBLIC_URL=\"/\"#window.PUBLIC_URL=\"$PREFIX/\"#g" \
       -e "s#\(src\|href\)=\"/#\1=\"$PREFIX/#g" "$dist/index.html"
grep -lF '__webpack_require__.p = "/"' "$dist"/*.js | xargs -r sed -i "s#__webpack_require__.p = \"/\"#__webpack_require__.p = \"$PREFIX/\"#g"
for css in "$dist"/*.css; do sed -i "s#url(/#url($PREFIX/#g" "$css"; done
sed -i "s#\"src\": \"/#\"src\": \"$PREFIX/#g" "$dist/manifest.json"
# ServeFolders has no SPA fallback: the route the tests open is a copy of index.html.
cp "$dist/index.html" "$dist/viewer"
cat > "$dist/app-config.js" <<'CONFIG'
/** OHIF served by Orthanc (ServeFolders, /ohif) next to its DICOMweb plugin (/dicom-web), same origin. */
window.config = {
  routerBasename: '/ohif',
  extensions: [],
  modes: [],
  customizationService: {},
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  investigationalUseDialog: { option: 'never' },
  showErrorDetails: 'always',
  defaultDataSourceName: 'orthanc',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'orthanc',
      configuration: {
        friendlyName: 'Orthanc (test)',
        name: 'orthanc',
        wadoUriRoot: window.location.origin + '/wado',
        qidoRoot: window.location.origin + '/dicom-web',
        wadoRoot: window.location.origin + '/dicom-web',
        qidoSupportsIncludeField: false,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
};
CONFIG
touch "$dist/.patched-ohif"
rm -rf "$target"
mkdir -p "$target"
mv "$dist" "$target/dist"
echo "ensure-viewer: OHIF $OHIF_VERSION ready in $target/dist ($(du -sh "$target/dist" | cut -f1))" >&2

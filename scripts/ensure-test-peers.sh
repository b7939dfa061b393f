#!/usr/bin/env bash
# Installs the Debian peers the tests talk to (DCMTK, dicom3tools, GDCM tools, Orthanc with DICOMweb,
# PixelMed, systemd-analyze for the deploy kit's unit check) when they are missing. As root it installs them
# with apt-get; otherwise it fails naming the missing packages.
set -euo pipefail
declare -A need=(
  [storescu]=dcmtk [dciodvfy]=dicom3tools [gdcmconv]=libgdcm-tools [Orthanc]=orthanc
  [systemd-analyze]=systemd [openssl]=openssl
)
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing+=(orthanc-dicomweb)
[ -e /usr/share/java/pixelmed.jar ] || missing+=(pixelmed-apps)
# The real-viewer test's chromium and OHIF dist; a failure there only makes that test skip.
bash "$(dirname "${BASH_SOURCE[0]}")/ensure-viewer.sh" || echo "ensure-test-peers: viewer rig not ready (the OHIF test will skip)" >&2
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "ensure-test-peers: missing Debian packages: ${missing[*]} (run as root, or: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "ensure-test-peers: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's orthanc package starts a service on 4242/8042 where an init system runs; the tests start their own.
if command -v service >/dev/null 2>&1; then service orthanc stop >/dev/null 2>&1 || true; fi

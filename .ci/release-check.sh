#!/usr/bin/env bash
# The release check: what a user installing the published packages gets, proven here.
# Packs every package with pnpm, installs the tarballs with plain npm into an empty project
# on a PATH without cc, make or python, and runs a smoke program there — with the prebuilt
# addons, with install scripts ignored, and from tarballs without prebuilds (the fallbacks
# must run and say so). Then publint, arethetypeswrong and a changesets version dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PNPM=(npx -y pnpm@10.34.9)
work=$(mktemp -d /tmp/walnut-release-XXXXXX)
trap 'rm -rf "$work"; node scripts/prebuilds.mjs --clean >/dev/null' EXIT
PACKAGES=(codec storage-io segmented mmap-reader percore wal replicate cli)

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

echo "== prebuilds"
node scripts/prebuilds.mjs
echo "== pack (with prebuilds)"
pack_all "$work/tarballs"
ls -l "$work/tarballs"
echo "== install without a compiler, scripts on"
install_and_smoke scripts "$work/tarballs" native
echo "== install without a compiler, scripts ignored"
install_and_smoke no-scripts "$work/tarballs" native --ignore-scripts
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

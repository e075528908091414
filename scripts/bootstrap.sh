#!/usr/bin/env bash
# Idempotent set-up for `make run` / `make test` on a new or a reused machine:
#   1. Debian packages the tests and the demo need (installed only when missing),
#   2. a Python 3.11 virtualenv kept in ~/.cache (a fresh clone reuses it; it is rebuilt or
#      topped up whenever pyproject.toml changes) and linked as ./.venv,
#   3. npm tools of each package.json in the tree (solc-js, anvil, the web app's build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(espeak-ng flite sox festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
CACHE=${TIMBRE_CACHE:-$HOME/.cache/timbre}
VENV_DIR="$CACHE/venv"
mkdir -p "$CACHE"
if [ ! -x "$VENV_DIR/bin/python" ]; then
  echo "bootstrap: creating virtualenv $VENV_DIR"
  "$PYTHON" -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install -q --upgrade pip
fi
if [ "$(readlink .venv 2>/dev/null || true)" != "$VENV_DIR" ]; then
  rm -rf .venv
  ln -s "$VENV_DIR" .venv
fi

# The stamp covers the dependency list and this clone's path (the editable install points here).
key=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)-$(echo "$ROOT" | sha256sum | cut -c1-8)
if [ "$(cat "$VENV_DIR/.timbre-stamp" 2>/dev/null || true)" != "$key" ]; then
  echo "bootstrap: installing Python packages (first run: a few minutes)"
  .venv/bin/pip install -q -e '.[dev]'
  # siwe pins web3<8; it works with web3 8 when installed without its pins (pyproject.toml).
  .venv/bin/pip install -q --no-deps 'siwe==4.4.0' 'abnf==2.5.1'
  echo "$key" > "$VENV_DIR/.timbre-stamp"
fi

for lock in contracts/package-lock.json frontend/package-lock.json; do
  [ -f "$lock" ] || continue
  dir=$(dirname "$lock")
  lkey=$(sha256sum "$lock" | cut -c1-16)
  if [ "$(cat "$dir/node_modules/.timbre-stamp" 2>/dev/null || true)" != "$lkey" ]; then
    echo "bootstrap: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lkey" > "$dir/node_modules/.timbre-stamp"
  fi
done

# The web app is built into frontend/dist (served by the studio) whenever its sources change.
if [ -f frontend/package.json ]; then
  fkey=$(find frontend -path frontend/node_modules -prune -o -path frontend/dist -prune -o -type f -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ "$(cat frontend/dist/.timbre-stamp 2>/dev/null || true)" != "$fkey" ]; then
    echo "bootstrap: building the web app"
    (cd frontend && npm run build --silent)
    echo "$fkey" > frontend/dist/.timbre-stamp
  fi
fi

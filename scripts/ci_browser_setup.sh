#!/usr/bin/env bash
# Browser for the leaderboard's end-to-end test: Debian's chromium (apt-get) and Playwright's
# Python package (pip) in the project's venv. Never `playwright install`: Playwright drives
# /usr/bin/chromium, so no browser is downloaded. Idempotent and quiet: does nothing when both
# are present; prints one line per thing it installs. Without root or apt-get (a developer's
# laptop) it says so and exits 0: the end-to-end test then skips with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

if ! "$PY" -c 'import playwright.sync_api' >/dev/null 2>&1; then
    echo "ci_browser_setup: pip install playwright"
    "$PY" -m pip install -q --disable-pip-version-check playwright
fi

if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    if command -v apt-get >/dev/null 2>&1 && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
        echo "ci_browser_setup: apt-get install chromium"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq >/dev/null
        $SUDO apt-get install -y -qq chromium >/dev/null
    else
        echo "ci_browser_setup: no root/apt-get: chromium not installed (the browser test will skip)"
    fi
fi

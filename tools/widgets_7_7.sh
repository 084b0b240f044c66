#!/usr/bin/env bash
# Run the explorer tests under ipywidgets 7.7.1, the version Colab ships, in a throwaway venv
# that puts ipywidgets 7.7.1 ahead of an existing fgssl environment (default: .venv, made by
# `make install`), so that torch is not installed twice.
#   tools/widgets_7_7.sh [path/to/fgssl/venv]
set -euo pipefail
base="$(cd "${1:-.venv}" && pwd)"
here="$(mktemp -d)"
trap 'rm -rf "$here"' EXIT
"$base/bin/python" -m venv "$here/venv"
# 7.7.1 and what it needs beyond the fgssl environment (ipykernel, ipython come from there)
"$here/venv/bin/python" -m pip install -q --no-deps "ipywidgets==7.7.1" \
    "widgetsnbextension>=3.6,<4" "jupyterlab-widgets>=1,<2" "ipython-genutils"
site=$("$here/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
"$base/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
    > "$site/fgssl-environment.pth"  # after this venv's own packages: 7.7.1 wins
"$here/venv/bin/python" -c "import ipywidgets; print('ipywidgets', ipywidgets.__version__)"
FGSSL_PROFILE=ci "$here/venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/viz/test_widgets.py tests/viz/test_puzzles.py

#!/usr/bin/env bash
# Create .venv/ and install the pinned OpenMMLab stack plus refclip_mm into it.
#
# Idempotent: every step checks whether its result is already there. The one
# slow step, building mmcv 2.1.0 with ops against torch 2.14, runs once per
# machine; its wheel is cached in $REFCLIP_CACHE (default ~/.cache/refclip_mm).
#
# Environment:
#   PYTHON         interpreter used to create the venv (default: python3)
#   VENV           venv directory (default: .venv)
#   REFCLIP_CACHE  wheel cache directory (default: ~/.cache/refclip_mm)
#   FORCE_CUDA     1 to build mmcv's CUDA ops (needs nvcc); default: CUDA ops only if a GPU is visible
#   MAX_JOBS       parallel compile jobs for mmcv (default: number of cores)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
CACHE=${REFCLIP_CACHE:-$HOME/.cache/refclip_mm}
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0

say() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
# pip, quiet; its full output is shown only when it fails
pip_q() {
    local log
    log=$(mktemp)
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log"; rm -f "$log"; say "pip install $* FAILED"; return 1
    fi
    rm -f "$log"
}

# 1. the virtual environment ---------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# 2. build tools and torch -----------------------------------------------------
say "build tools: setuptools>=77,<81, wheel, ninja, numpy<2"
pip_q "setuptools>=77,<81" wheel ninja "numpy<2"
if ! "$PY" -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    say "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION (several GB, a few minutes)"
    pip_q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

# 3. mmcv with ops, built once per machine and cached --------------------------
if [ -z "${FORCE_CUDA:-}" ]; then
    FORCE_CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))")
fi
FLAVOUR=$([ "$FORCE_CUDA" = 1 ] && echo cuda || echo cpu)
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$FLAVOUR"
mmcv_ops_ok() {
    "$PY" - <<'PYEOF' 2>/dev/null
import mmcv, sys
from mmcv.ops import RoIAlign, batched_nms  # noqa: F401
sys.exit(mmcv.__version__ != '2.1.0')
PYEOF
}
if ! mmcv_ops_ok; then
    if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
        BUILD=$(mktemp -d)
        LOG="$CACHE/mmcv-build.log"
        mkdir -p "$CACHE"
        say "building mmcv $MMCV_VERSION with $FLAVOUR ops from its sdist (once per machine; ~18 min on 2 cores)"
        say "compiler output goes to $LOG"
        start=$(date +%s)
        "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
        tar -xzf "$BUILD"/mmcv-$MMCV_VERSION.tar.gz -C "$BUILD"
        SRC="$BUILD/mmcv-$MMCV_VERSION"
        # torch 2.14's headers require C++20; mmcv 2.1.0 forces C++17.
        sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
        if ! (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA="$FORCE_CUDA" MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
              "$ROOT/$PY" -m pip wheel --no-build-isolation --no-deps -w "$BUILD/dist" . >"$LOG" 2>&1); then
            say "mmcv build FAILED; the last lines of $LOG:"
            tail -n 30 "$LOG"
            say "see docs/install.md, section 'When mmcv fails to build'"
            exit 1
        fi
        mkdir -p "$WHEEL_DIR"
        # copy then rename, so an interrupted copy never looks like a cached wheel
        for whl in "$BUILD"/dist/mmcv-*.whl; do
            cp "$whl" "$WHEEL_DIR/.$(basename "$whl").part"
            mv "$WHEEL_DIR/.$(basename "$whl").part" "$WHEEL_DIR/$(basename "$whl")"
        done
        rm -rf "$BUILD"
        say "mmcv built in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s; cached in $WHEEL_DIR"
    else
        say "using cached mmcv wheel from $WHEEL_DIR"
    fi
    pip_q --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
fi

# 4. the rest of the stack (refclip_mm itself: `make install`) ------------------------------
# mmpretrain was a dependency of older set-ups and is none now: with transformers installed
# (requirements.txt) its multimodal models fail to import and take mmdet.models down with them.
if "$PY" -m pip show --quiet mmpretrain >/dev/null 2>&1; then
    say "removing mmpretrain, left over from an older set-up (not a dependency)"
    "$PY" -m pip uninstall --quiet --yes mmpretrain
fi
say "installing the pinned stack (requirements.txt)"
pip_q -r requirements.txt
# openmim's dependency openxlab pins an old setuptools; put the working range back.
pip_q "setuptools>=77,<81"
mmcv_ops_ok || { say "mmcv with ops does not import after installing the stack"; exit 1; }
"$PY" -c "import mmdet.models, mmseg.models, open_clip, transformers" \
    || { say "the stack does not import; see the error above"; exit 1; }
say "stack ready in $VENV"

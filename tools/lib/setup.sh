# Shared setup for tools/*: installs what the project needs on a fresh
# machine. Sourced, not run.

# Rust components: the illumos target (cargo check of userland, no_std
# builds) and rust-src (-Zbuild-std for the kernel target). Sets
# ILLUMOS_TARGET_OK=1 when both are present, else ILLUMOS_TARGET_WHY.
setup_rust_components() {
    ILLUMOS_TARGET_OK=1
    ILLUMOS_TARGET_WHY=
    if ! command -v rustup >/dev/null 2>&1; then
        ILLUMOS_TARGET_OK=0
        ILLUMOS_TARGET_WHY="rustup is not installed"
        return
    fi
    if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-illumos; then
        rustup target add x86_64-unknown-illumos >&2 || {
            ILLUMOS_TARGET_OK=0
            ILLUMOS_TARGET_WHY="rustup could not install x86_64-unknown-illumos"
        }
    fi
    if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
        rustup component add rust-src >&2 || {
            ILLUMOS_TARGET_OK=0
            ILLUMOS_TARGET_WHY="rustup could not install rust-src"
        }
    fi
}

# Debian packages, installed only when a command is missing.
#   need_pkgs CMD:PKG [CMD:PKG ...]
need_pkgs() {
    local missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    [ ${#missing[@]} = 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages ${missing[*]}: run as root to install them" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

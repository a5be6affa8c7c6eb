# Shared helpers for the scripts in this folder. Source it; do not run it.
# Every `ensure_*` installs what is missing and is a no-op otherwise, so scripts work on a fresh
# Debian machine with rustup and stay fast on a prepared one.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FILTERS=(auth quota analytics routing)
# The target of the shipped modules (see filter_core::WASM_TARGET, which must agree). Clippy also
# checks wasm32-wasip1, the proxy-wasm Rust SDK's usual target, which the filters build for too.
WASM_TARGET=wasm32-unknown-unknown
LINT_TARGET=wasm32-wasip1
export WASM_TARGET

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_apt PKG...: installs Debian packages that are not installed yet.
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_rust_targets: the wasm targets named in rust-toolchain.toml.
ensure_rust_targets() {
  local installed
  installed="$(cd "$ROOT" && rustup target list --installed)"
  for t in wasm32-wasip1 wasm32-unknown-unknown; do
    if ! grep -qx "$t" <<<"$installed"; then
      say "installing rust target $t"
      (cd "$ROOT" && rustup target add "$t")
    fi
  done
}

# The feature flags Rust's wasm output needs once the target-features section is stripped.
WASM_OPT_FLAGS=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-mutable-globals)

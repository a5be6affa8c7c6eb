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

# remap_paths: builds for WASM_TARGET that do not depend on where this checkout and Cargo's
# registry are. Panic messages name their source files, so without this a module carried
# /root/.cargo/registry/... and the checkout's path, and two machines building the same commit
# got different bytes and sha256 (also 1.3 KB of auth's module). The flags are WASM_TARGET's
# own, so native builds keep their cache; every script that builds for WASM_TARGET calls this
# first, so that they share one set of flags and never rebuild each other's dependencies.
remap_paths() {
  (cd "$ROOT" && cargo fetch --locked --quiet)
  local flags="--remap-path-prefix=$ROOT/=" dir
  for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    flags+=" --remap-path-prefix=$dir="
  done
  local var
  var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$WASM_TARGET")_RUSTFLAGS"
  export "$var=$flags"
}

# The feature flags Rust's wasm output needs once the target-features section is stripped.
WASM_OPT_FLAGS=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-mutable-globals)

#!/usr/bin/env bash
# Cold release-build cost of services on genesys-cloud against the same programs on bare
# reqwest + tokio + serde_json (figures in docs/PERFORMANCE.md):
#
# - core, rustls / bare-*: one GET with `Client::from_env()` (issue #13);
# - service / bare-service: an axum service with three endpoints (patch participant
#   attributes, book a callback, read a routing queue through `client.api()`), that is
#   `examples/service` with only its features (issue #23), against
#   `benches/compile_cost/bare_service.rs` on reqwest (rustls with ring) + axum.
#
#   bash benches/compile_cost.sh                  # every variant
#   VARIANTS="service bare-service" bash benches/compile_cost.sh
#   SERVICE_FEATURES='"rustls", "messaging", "callbacks", "api", "tzdb-bundled"' \
#     VARIANTS=service bash benches/compile_cost.sh   # the service with other features
#   TIMINGS_DIR=/tmp/t bash benches/compile_cost.sh  # also keep cargo's --timings report of each
#
# Each variant is a project built into a fresh target directory; printed: crates in the
# normal dependency tree (each package once), CPU seconds (user + sys) of
# `cargo build --release`, wall seconds, stripped binary size, and which crates compile C
# (reverse dependencies of `cc`).
set -euo pipefail
crate_dir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
VARIANTS=${VARIANTS:-"core rustls bare-plain bare-ring bare-default service bare-service"}

svc_main='use genesys_cloud::{Client, Method};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;
    let org: serde_json::Value = client.request(Method::GET, "/api/v2/organizations/me").send().await?;
    println!("{}", org["name"]);
    Ok(())
}'
bare_main='#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("GENESYS_API_BASE")?;
    let token = std::env::var("GENESYS_TOKEN")?;
    INSTALL_PROVIDER
    let org: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v2/organizations/me"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("{}", org["name"]);
    Ok(())
}'

deps_for() {
  case "$1" in
    core) echo "genesys-cloud = { path = \"$crate_dir\", default-features = false }" ;;
    rustls) echo "genesys-cloud = { path = \"$crate_dir\", default-features = false, features = [\"rustls\"] }" ;;
    bare-plain) echo 'reqwest = { version = "0.13", default-features = false, features = ["json", "http2"] }' ;;
    bare-ring) printf '%s\n%s\n' \
      'reqwest = { version = "0.13", default-features = false, features = ["json", "http2", "rustls-no-provider"] }' \
      'rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }' ;;
    bare-default) echo 'reqwest = { version = "0.13", features = ["json"] }' ;;
    bare-service) printf '%s\n' \
      'reqwest = { version = "0.13", default-features = false, features = ["json", "form", "http2", "rustls-no-provider"] }' \
      'rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }' \
      'axum = "0.8"' \
      'serde = { version = "1", features = ["derive"] }' ;;
    *) echo "unknown variant $1" >&2; exit 1 ;;
  esac
}

printf '%-14s %7s %8s %7s %10s  %s\n' variant crates cpu_s wall_s bytes "compiles C"
for v in $VARIANTS; do
  dir="$work/$v"
  mkdir -p "$dir/src"
  bin="cost-$v"
  if [ "$v" = service ]; then
    # examples/service as it is, its path dependencies pointed at this checkout.
    cp -r "$crate_dir/examples/service/src" "$dir/"
    sed -e "s|path = \"\.\./\.\./api\"|path = \"$crate_dir/api\"|" \
      -e "s|path = \"\.\./\.\.\"|path = \"$crate_dir\"|" \
      "$crate_dir/examples/service/Cargo.toml" >"$dir/Cargo.toml"
    if [ -n "${SERVICE_FEATURES:-}" ]; then
      sed -i "/^genesys-cloud = .*default-features = false, features/s|features = \[[^]]*\]|features = [$SERVICE_FEATURES]|" \
        "$dir/Cargo.toml"
    fi
    printf '\n[profile.release]\nstrip = true\n\n[workspace]\n' >>"$dir/Cargo.toml"
    bin=genesys-cloud-example-service
  else
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "cost-$v"
version = "0.1.0"
edition = "2021"

[dependencies]
$(deps_for "$v")
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
serde_json = "1"

[profile.release]
strip = true

[workspace]
EOF
  fi
  case "$v" in
    service) ;;
    bare-service) cp "$crate_dir/benches/compile_cost/bare_service.rs" "$dir/src/main.rs" ;;
    core | rustls) echo "$svc_main" >"$dir/src/main.rs" ;;
    bare-ring) echo "${bare_main/INSTALL_PROVIDER/let _ = rustls::crypto::ring::default_provider().install_default();}" >"$dir/src/main.rs" ;;
    *) echo "${bare_main/INSTALL_PROVIDER/}" >"$dir/src/main.rs" ;;
  esac
  (
    cd "$dir"
    /usr/bin/time -f "%U %S %e" -o time.txt cargo build --release -q --target-dir target \
      ${TIMINGS_DIR:+--timings} 2>build.err || { cat build.err >&2; exit 1; }
    if [ -n "${TIMINGS_DIR:-}" ]; then
      mkdir -p "$TIMINGS_DIR" && cp target/cargo-timings/cargo-timing.html "$TIMINGS_DIR/$v.html"
    fi
    read -r user sys wall <time.txt
    # Each package once: `cargo tree` marks repeats with "(*)".
    crates=$(cargo tree -e normal --prefix none 2>/dev/null | sed 's/ (\*)$//' | sort -u | wc -l)
    c_users=$(cargo tree -e normal,build -i cc --prefix none --depth 1 2>/dev/null |
      grep -v '^cc v' | sed 's/ v.*//' | sort -u | tr '\n' ' ')
    printf '%-14s %7s %8.1f %7.1f %10s  %s\n' "$v" "$crates" "$(echo "$user + $sys" | bc)" "$wall" \
      "$(stat -c %s "target/release/$bin")" "${c_users:-none}"
  )
done

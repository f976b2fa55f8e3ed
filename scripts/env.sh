# Shared by the scripts: where builds go. Outside the clone, so a second clone on the same machine
# (CI) reuses the build; any CARGO_TARGET_DIR you set wins.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapport/target}"

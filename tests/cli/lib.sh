# Shared helpers of the shell tests (source it): PASS/FAIL lines and counters.
# begin_test URSA_BIN WORKDIR: the usual arguments; sets $ursa, $py and $work (made
# afresh) and enters $work.
begin_test() {
  [ $# -eq 2 ] || { echo "usage: bash $0 URSA_BIN WORKDIR" >&2; exit 2; }
  ursa=$(realpath "$1")
  py=/usr/bin/python3
  rm -rf "$2" && mkdir -p "$2" && work=$(realpath "$2")
  cd "$work" || exit 2
}
passed=0
failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# run NAME EXPECTED_RC CMD... : runs CMD, keeps stdout/stderr in NAME.out/.err
run() {
  local name=$1 want=$2; shift 2
  "$@" >"$name.out" 2>"$name.err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$name exits $want"; else bad "$name exits $rc, expected $want"; cat "$name.err" "$name.out"; fi
}
contains() { grep -qF -- "$2" "$1" || { echo "  $1 lacks: $2"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$1"; }

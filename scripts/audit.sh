#!/usr/bin/env bash
# Dependency audit: pip-audit over the project's virtualenv and `npm audit` for contracts/ and
# frontend/. An audit that cannot reach its vulnerability database is reported as NOT AUDITED
# and fails (exit 3): a clean result is printed only when every package was actually checked.
#
# pip-audit runs from its own virtualenv (~/.cache/timbre/audit-venv, created on first use) so
# the project's environment is never changed. Exit: 0 clean, 1 vulnerabilities found,
# 3 not (fully) audited.
set -uo pipefail
cd "$(dirname "$0")/.."
AUDIT_VENV="${TIMBRE_AUDIT_VENV:-$HOME/.cache/timbre/audit-venv}"
status=0
worst() { if [ "$1" -gt "$status" ]; then status=$1; fi; }

echo "== pip-audit (.venv)"
if [ ! -x "$AUDIT_VENV/bin/pip-audit" ]; then
  python3 -m venv "$AUDIT_VENV" && "$AUDIT_VENV/bin/pip" install -q "pip-audit==2.10.*" \
    || { echo "NOT AUDITED: cannot install pip-audit"; worst 3; }
fi
if [ -x "$AUDIT_VENV/bin/pip-audit" ]; then
  reqs=$(mktemp) report=$(mktemp)
  # the project itself is an editable install, not a PyPI package: leave it out
  .venv/bin/python -m pip freeze --exclude-editable 2>/dev/null | grep -v " @ file:" >"$reqs"
  "$AUDIT_VENV/bin/pip-audit" --no-deps --disable-pip --progress-spinner off -r "$reqs" \
    --format json -o "$report" 2>/dev/null
  rc=$?
  .venv/bin/python - "$report" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    deps = json.load(open(path))["dependencies"]
except (OSError, ValueError, KeyError):
    print(f"NOT AUDITED: pip-audit produced no report (exit {rc})")
    sys.exit(3)
skipped = [d for d in deps if d.get("skip_reason")]
vulns = [(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])]
for name, version, vid in vulns:
    print(f"VULNERABLE: {name} {version}: {vid}")
if skipped:
    reason = skipped[0]["skip_reason"]
    print(f"NOT AUDITED: {len(skipped)} of {len(deps)} packages could not be checked "
          f"(first: {skipped[0]['name']}: {reason}).")
    print("  pip-audit's vulnerability services (the PyPI JSON API, OSV) are not reachable "
          "from this machine; run `make audit` where they are (CI with internet access).")
if vulns:
    sys.exit(1)
if skipped:
    sys.exit(3)
print(f"ok: {len(deps)} packages audited, no known vulnerabilities")
PY
  worst $?
  rm -f "$reqs" "$report"
fi

for dir in contracts frontend; do
  echo "== npm audit ($dir)"
  out=$(cd "$dir" && npm audit --json 2>/dev/null)
  rc=$?
  node -e '
    const [rc, text] = [Number(process.argv[1]), process.argv[2]];
    let r; try { r = JSON.parse(text); } catch { r = null; }
    if (!r || r.error || !r.metadata) {
      const why = (r && ((r.error && (r.error.summary || r.error.code)) || r.message)) || "no answer";
      console.log(`NOT AUDITED: the registry audit endpoint is not reachable from here (${why}).`);
      process.exit(3);
    }
    const v = r.metadata.vulnerabilities;
    const total = Object.values(v).reduce((a, b) => a + b, 0);
    if (total) { console.log("VULNERABLE:", JSON.stringify(v)); process.exit(1); }
    console.log(`ok: ${r.metadata.dependencies.total ?? "all"} packages audited, none vulnerable`);
  ' "$rc" "$out"
  worst $?
done

case $status in
  0) echo "audit: clean" ;;
  1) echo "audit: VULNERABILITIES FOUND" ;;
  *) echo "audit: INCOMPLETE — some dependencies were NOT audited (see above); this is not a pass" ;;
esac
exit $status

#!/usr/bin/env bash
# Checks the deployment files without a container engine (none runs on these machines):
#   1. deploy/compose.yaml parses and interpolates (Debian's docker-compose: `config -q`), with
#      secrets from deploy/gen-keys.sh, and refuses to render without them; images pinned,
#      health checks and volumes where they belong.
#   2. deploy/gen-dev-cert.sh makes a certificate chain that verifies.
#   3. apps/sync-server/Dockerfile passes dockerfile-utils (strict) and the image policy
#      (scripts/lint-dockerfile.mjs).
#   4. The image's build stage, rehearsed: the build context exactly as .dockerignore selects it
#      (docker-py's own implementation), checked for keys and local data, then the Dockerfile's
#      commands (pnpm fetch --prod; the server's bundle, apps/sync-server/build.mjs;
#      deploy/server-dir.sh) and the image's start command with NODE_ENV=production: the bundle
#      must load every module from production dependencies alone and stop at the configuration
#      guard (exit 78) naming what production requires.
#   5. apps/edge/electron-builder.yml parses and targets AppImage and deb.
# What this cannot show (no engine): that the image builds and the stack runs. See README.
# Never skips silently: a missing tool fails with the command that installs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "  - $*"; }

if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "The deployment checks need Debian's docker-compose (it parses compose files without an engine)." >&2
    echo "Install it with: sudo apt-get update && sudo apt-get install -y --no-install-recommends docker-compose" >&2
    exit 1
  fi
  echo "installing docker-compose (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends docker-compose >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends docker-compose; }
fi
# docker-compose's own interpreter has its yaml and docker (docker-py) modules.
py=$(head -1 "$(command -v docker-compose)" | sed -e 's/^#! *//' -e 's/ .*$//')
[ -x "$py" ] || py=python3

# 1. Compose.
compose=(docker-compose --project-directory "$root/deploy" -f "$root/deploy/compose.yaml")
bash deploy/gen-keys.sh "$tmp/stack.env" >/dev/null
if "${compose[@]}" config -q >/dev/null 2>"$tmp/no-env.err" </dev/null && [ ! -e deploy/.env ]; then
  echo "deploy/compose.yaml rendered without secrets: each must be required (\${VAR:?…})" >&2
  exit 1
fi
"${compose[@]}" --env-file "$tmp/stack.env" config -q
"${compose[@]}" --env-file "$tmp/stack.env" config >"$tmp/compose.rendered.yaml"
"$py" - "$tmp/compose.rendered.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
problems = []
own_image = lambda s: s.get("build", {}).get("dockerfile", "").endswith("apps/sync-server/Dockerfile")
for name, s in services.items():
    image = s.get("image", "")
    if not own_image(s) and (":" not in image or image.endswith(":latest")):
        problems.append(f"{name}: image {image!r} must be pinned to a version")
    one_shot = s.get("restart") == "no"
    # Our image carries its own HEALTHCHECK; every other long-running service declares one.
    if not one_shot and not own_image(s) and "healthcheck" not in s:
        problems.append(f"{name}: a long-running service needs a healthcheck")
for stateful, path in [("postgres", "/var/lib/postgresql/data"), ("minio", "/data"), ("rabbitmq", "/var/lib/rabbitmq")]:
    vols = [str(v.get("target") if isinstance(v, dict) else v) for v in services.get(stateful, {}).get("volumes", [])]
    if not any(path in v for v in vols):
        problems.append(f"{stateful}: its data ({path}) must be on a volume")
replicas = [n for n, s in services.items() if own_image(s) and "DATABASE_URL" in (s.get("environment") or {})]
if len(replicas) < 2:
    problems.append(f"expected at least two sync-server replicas, found {replicas}")
for n in replicas:
    env = services[n]["environment"]
    for k, v in {"TLS_TERMINATED_BY_PROXY": "true", "OIDC_ROLES_CLAIM": "realm_access.roles"}.items():
        if str(env.get(k)) != v:
            problems.append(f"{n}: {k} must be {v}")
if problems:
    print("deploy/compose.yaml:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"    {len(services)} services, {len(replicas)} sync-server replicas, images pinned, health checks and volumes in place")
PY
step "compose: docker-compose config -q OK; refuses to render without deploy/gen-keys.sh secrets"

# 2. Development certificate.
bash deploy/gen-dev-cert.sh xray.localhost "$tmp/certs" >/dev/null
openssl verify -CAfile "$tmp/certs/ca.crt" "$tmp/certs/server.crt" >/dev/null
openssl x509 -in "$tmp/certs/server.crt" -noout -ext subjectAltName | grep -q 'DNS:xray.localhost'
step "gen-dev-cert.sh: chain verifies, SAN xray.localhost"
for secret in deploy/.env deploy/certs/server.key; do
  git check-ignore -q "$secret" || { echo "$secret must be ignored by git (deploy/.gitignore)" >&2; exit 1; }
done
step "deploy/.env and deploy/certs/ are ignored by git"

# 3. Dockerfile lint.
node scripts/lint-dockerfile.mjs apps/sync-server/Dockerfile | sed 's/^/    /'
step "Dockerfile lint OK"

# 4. Image rehearsal.
ctx="$tmp/context"
"$py" - "$root" "$ctx" <<'PY'
import os, re, shutil, sys
from docker.utils.build import exclude_paths
root, ctx = sys.argv[1], sys.argv[2]
with open(os.path.join(root, ".dockerignore")) as f:
    patterns = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
files = sorted(p for p in exclude_paths(root, patterns, dockerfile="apps/sync-server/Dockerfile")
               if os.path.isfile(os.path.join(root, p)))
# Local data (embedded PostgreSQL, development keys, the dev issuer's keys), secrets, certificates.
forbidden = re.compile(r"(^|/)(\.data|node_modules|\.git|certs|secrets|dev-oidc)(/|$)|\.(pem|key|crt|env)$|(^|/)\.env|dev-keys\.json$")
leaks = [p for p in files if forbidden.search(p)]
if leaks:
    print("the build context would contain keys or local data:\n  " + "\n  ".join(leaks), file=sys.stderr)
    sys.exit(1)
for p in files:
    os.makedirs(os.path.dirname(os.path.join(ctx, p)), exist_ok=True)
    shutil.copy2(os.path.join(root, p), os.path.join(ctx, p))
print(f"    build context: {len(files)} files, no keys or local data")
PY
pnpm_version=$(sed -n 's/^ARG PNPM_VERSION=//p' apps/sync-server/Dockerfile)
pnpm=(npx --yes "pnpm@${pnpm_version}")
(cd "$ctx" && "${pnpm[@]}" fetch --prod --reporter=silent)
# The bundle, built by this checkout's esbuild (the image's build stage installs it) into the context.
node apps/sync-server/build.mjs --outdir "$ctx/apps/sync-server/dist" | sed 's/^/    /'
(cd "$ctx" && PNPM="${pnpm[*]} --reporter=silent" PNPM_OFFLINE=1 sh deploy/server-dir.sh "$tmp/app")
[ ! -e "$tmp/app/test" ] || { echo "tests left in the runtime directory" >&2; exit 1; }
# Production runs the bundle: no TypeScript sources and no tsx to run them with.
[ ! -e "$tmp/app/src" ] && [ ! -e "$tmp/app/node_modules/tsx" ] ||
  { echo "the runtime directory has TypeScript sources or tsx: production runs dist/" >&2; exit 1; }
# What compose runs from the image besides its CMD (the Patient and Doctor stand-ins) is in it too.
"$py" - "$tmp/compose.rendered.yaml" "$tmp/app" <<'PY'
import os, shlex, sys, yaml
services, app = yaml.safe_load(open(sys.argv[1]))["services"], sys.argv[2]
problems, ran = [], []
for name, s in services.items():
    if not s.get("build", {}).get("dockerfile", "").endswith("apps/sync-server/Dockerfile") or not s.get("command"):
        continue
    cmd = s["command"] if isinstance(s["command"], list) else shlex.split(s["command"])
    ran.append(name)
    for arg in map(str, cmd):
        if arg == "tsx" or arg.endswith(".ts"):
            problems.append(f"{name}: runs {arg!r}, but the image has neither tsx nor TypeScript sources")
        elif arg.endswith(".js") and not os.path.isfile(os.path.join(app, arg)):
            problems.append(f"{name}: runs {arg}, which the image's /app does not have")
if problems:
    print("deploy/compose.yaml:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"    compose's own commands on the image ({', '.join(ran)}): files of the bundle, no tsx")
PY
# The image's CMD, as the image's user would run it: production, no configuration.
cmd=$(sed -n 's/^CMD \[\(.*\)\]$/\1/p' apps/sync-server/Dockerfile | tr -d '",')
set +e
(cd "$tmp/app" && env -i PATH="$PATH" HOME="$tmp" NODE_ENV=production HOST=0.0.0.0 PORT=8080 \
  DATA_DIR="$tmp/data" $cmd) >"$tmp/start.out" 2>&1
status=$?
set -e
if [ "$status" -ne 78 ]; then
  echo "the rehearsed image did not stop at the configuration guard (exit $status, expected 78):" >&2
  cat "$tmp/start.out" >&2
  exit 1
fi
for v in OIDC_ISSUER DATABASE_URL S3_BUCKET KEK UPLOAD_PRIVATE_KEY TLS_TERMINATED_BY_PROXY; do
  grep -q "^  $v:" "$tmp/start.out" || { echo "the guard did not name $v:" >&2; cat "$tmp/start.out" >&2; exit 1; }
done
[ ! -e "$tmp/data" ] || { echo "a production start wrote to DATA_DIR" >&2; exit 1; }
step "image rehearsal: production dependencies only ($(du -sh "$tmp/app" | cut -f1)); '$cmd' loads and stops at the config guard"

# 5. Electron packaging config.
"$py" - apps/edge/electron-builder.yml <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
targets = c.get("linux", {}).get("target", [])
names = {t if isinstance(t, str) else t.get("target") for t in targets}
missing = {"AppImage", "deb"} - names
if missing or not c.get("appId"):
    print(f"{sys.argv[1]}: needs appId and linux targets AppImage and deb (missing {sorted(missing)})", file=sys.stderr)
    sys.exit(1)
PY
step "electron-builder.yml: appId, linux AppImage + deb"
echo "deployment checks passed (without a container engine: the image is built and run by apps/sync-server/test/container.int.test.ts)"

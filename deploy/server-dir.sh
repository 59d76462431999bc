#!/bin/sh
# Builds the sync server's runtime directory OUT from the workspace: its bundle (apps/sync-server/dist,
# built first: `pnpm --filter @xray/sync-server run build`), its migrations, and its production
# dependencies only, at the versions in the workspace lockfile (pnpm deploy). The image's build
# stage runs it (apps/sync-server/Dockerfile), and scripts/check-deploy.sh runs it outside
# containers to prove the result starts. Run from the workspace root.
#   deploy/server-dir.sh OUT            PNPM="node scripts/pnpm.mjs" to use the pinned pnpm
#   PNPM_OFFLINE=1 deploy/server-dir.sh OUT   after `pnpm fetch --prod` (the image does this):
#   packages come from what fetch stored; only registry metadata that no cache holds is asked for
#   (a legacy deploy re-resolves the workspace packages' own ranges, which `fetch` does not record)
set -eu
out=${1:?usage: deploy/server-dir.sh OUT}
if [ ! -f apps/sync-server/dist/main.js ] || [ ! -f apps/sync-server/dist/xray-admin.js ]; then
  echo "apps/sync-server/dist is not built: run pnpm --filter @xray/sync-server run build first" >&2
  exit 1
fi
pnpm=${PNPM:-pnpm}
# --legacy: the workspace keeps symlinked workspace packages (no inject-workspace-packages), so the
# dedicated-lockfile deploy is not available; the legacy one installs from the shared lockfile.
# shellcheck disable=SC2086 # PNPM may be a command with arguments
$pnpm --filter @xray/sync-server --prod --frozen-lockfile ${PNPM_OFFLINE:+--prefer-offline} deploy --legacy "$out"
# The server runs its bundle, without source maps (no --enable-source-maps; it is not minified, so
# a stack trace's line is readable as it is). Not needed at run time: the TypeScript sources (the
# bundle holds them), tests and their config, the build files and the committed OpenAPI copy (the
# server serves the document from its schemas); in dependencies, source maps, type declarations
# and the packages' own tests.
rm -rf "$out/dist" "$out/src" "$out/test" "$out/vitest.config.ts" "$out/Dockerfile" "$out/openapi.json" \
  "$out/build.mjs" "$out/tsconfig.json"
cp -R apps/sync-server/dist "$out/dist"
find "$out/dist" -name '*.map' -delete
find "$out/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.test.[cm]js' -o -name '*.test.js' -o -name '*.test.ts' -o -name '*.spec.[cm]js' -o -name '*.spec.js' -o -name '*.spec.ts' \) -delete
find "$out/node_modules" -depth -type d \( -name test -o -name tests -o -name __tests__ \) | while read -r dir; do
  # A package itself may be called test: only folders inside a package go.
  case $(basename "$(dirname "$dir")") in node_modules | @*) ;; *) rm -rf "$dir" ;; esac
done
find "$out/node_modules" -mindepth 2 -type d -empty -delete

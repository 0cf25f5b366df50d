#!/usr/bin/env bash
# Builds the three wharf images from this checkout: `pnpm build`, then deploy/docker/Dockerfile
# per target, tagged wharf/<service>:<version>. With no BASE_IMAGE given, the bases are made
# from Debian packages and this machine's node (scripts/build-base-images.sh), since no image
# registry is reachable here. Prints each image with its size.
#   BASE_IMAGE=node:20-bookworm-slim scripts/build-images.sh    # on a machine with a registry
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(node -p 'require("./package.json").version')"
pnpm build >/dev/null
revision="$(node -p 'require("./packages/cli/dist/package.json").revision')"
if [ -z "${BASE_IMAGE:-}" ]; then
  bash scripts/build-base-images.sh
  BASE_IMAGE="${WHARF_BASE_IMAGE:-wharf-base/runtime:bookworm}"
  WORKER_BASE_IMAGE="${WHARF_WORKER_BASE_IMAGE:-wharf-base/worker:bookworm}"
fi
WORKER_BASE_IMAGE="${WORKER_BASE_IMAGE:-$BASE_IMAGE}"

for target in provisioner aggregator worker; do
  docker build --quiet --network none -f deploy/docker/Dockerfile --target "$target" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "WORKER_BASE_IMAGE=$WORKER_BASE_IMAGE" \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    -t "wharf/$target:$version" . >/dev/null 2>/tmp/wharf-image-build.log ||
    { grep -v -i -e deprecated -e buildx -e '^ *$' /tmp/wharf-image-build.log; exit 1; }
  echo "wharf/$target:$version $(docker image inspect -f '{{.Size}}' "wharf/$target:$version") bytes"
done

#!/usr/bin/env bash
# Fails unless inf_get_api is the only symbol libinfinode exports (the linker's own bookkeeping
# symbols aside): everything else, the statically linked engine core included, stays private.
set -euo pipefail
library="$1"
exported=$(nm -D --defined-only "$library" | awk '{ print $NF }' | sed 's/@.*//' |
  grep -vxE '_init|_fini|_edata|_end|__bss_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_' | sort -u)
if [[ "$exported" != "inf_get_api" ]]; then
  echo "libinfinode exports more than inf_get_api:" >&2
  echo "$exported" | head -50 >&2
  exit 1
fi
echo "only inf_get_api is exported from $library"

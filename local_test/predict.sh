#!/usr/bin/env bash
# POST a payload to a running server (./serve_local.sh, or `serve` on the host).
#
#   ./predict.sh PAYLOAD-FILE [CONTENT-TYPE]
#   ./predict.sh payloads/customer.json
#   ./predict.sh payloads/customers.jsonl application/jsonlines
#   ./predict.sh payloads/customers.csv text/csv
#
# CONTENT-TYPE defaults from the file's extension (.json, .jsonl, .csv); the answer comes
# in the same type unless ACCEPT is set (e.g. ACCEPT=application/json). The server is
# http://127.0.0.1:${PORT:-8080} unless URL is set.
set -euo pipefail

payload="${1:?usage: $0 PAYLOAD-FILE [CONTENT-TYPE]}"
[[ -f "$payload" ]] || { echo "no such file: $payload" >&2; exit 1; }
if [[ -n "${2:-}" ]]; then
  content_type="$2"
else
  case "$payload" in
    *.json) content_type=application/json ;;
    *.jsonl|*.jsonlines|*.ndjson) content_type=application/jsonlines ;;
    *.csv) content_type=text/csv ;;
    *) echo "cannot tell the content type of $payload; pass it as the second argument" >&2; exit 1 ;;
  esac
fi
url="${URL:-http://127.0.0.1:${PORT:-8080}}"

curl --silent --show-error --fail-with-body \
  -H "Content-Type: $content_type" -H "Accept: ${ACCEPT:-$content_type}" \
  --data-binary @"$payload" "$url/invocations"
echo

#!/bin/sh
# Jibri finalize script for Roomkeeper. Set it in Jibri's configuration:
#   jibri.recording.finalize-script = "/usr/local/bin/roomkeeper-finalize.sh"
# Jibri calls it with one argument, the session directory, once the recording stopped.
#
# Two ways to hand the session over (docs/RECORDINGS.md):
#   local: Roomkeeper runs on this machine and reads its configuration:
#            ROOMKEEPER_CONFIG=/etc/roomkeeper/roomkeeper.toml
#          the videos are moved (same filesystem) or copied into recordings storage.
#   http:  ROOMKEEPER_URL=https://rooms.example.org
#          ROOMKEEPER_INGEST_TOKEN_FILE=/etc/jibri/roomkeeper-ingest-token
#          the session is uploaded; Jibri's files are removed only after a 200.
# Settings can also live in /etc/jibri/roomkeeper-finalize.env.
set -eu

dir=${1:?usage: finalize.sh SESSION_DIRECTORY}
[ -r /etc/jibri/roomkeeper-finalize.env ] && . /etc/jibri/roomkeeper-finalize.env

if [ -z "${ROOMKEEPER_URL:-}" ]; then
  exec roomkeeper ingest "$dir"
fi

token=$(cat "${ROOMKEEPER_INGEST_TOKEN_FILE:?set ROOMKEEPER_INGEST_TOKEN_FILE}")
session=$(basename "$dir")
set -- -F "session=$session" -F "metadata=@$dir/metadata.json;type=application/json"
found=no
for video in "$dir"/*.mp4 "$dir"/*.webm "$dir"/*.mkv; do
  [ -f "$video" ] || continue
  set -- "$@" -F "video=@$video"
  found=yes
done
[ "$found" = yes ] || { echo "finalize.sh: no video in $dir" >&2; exit 1; }

# Retried with growing pauses: the same session sent again gives the same recordings.
attempt=1
while :; do
  # The token goes to curl on its standard input (printf is built into the shell):
  # in curl's arguments anyone on this machine could read it with ps.
  if printf 'header = "Authorization: Bearer %s"\n' "$token" |
       curl --config - --fail-with-body --silent --show-error --max-time 3600 \
         "$@" "$ROOMKEEPER_URL/api/v1/recordings/ingest"; then
    echo
    rm -f "$dir"/*.mp4 "$dir"/*.webm "$dir"/*.mkv "$dir/metadata.json"
    rmdir "$dir" 2>/dev/null || true
    exit 0
  fi
  [ "$attempt" -lt 8 ] || { echo "finalize.sh: giving up on $dir; files kept" >&2; exit 1; }
  sleep $((attempt * attempt * 5))
  attempt=$((attempt + 1))
done

#!/bin/sh
# Jibri's finalize script for Roomkeeper (docs/RECORDINGS.md). In Jibri's configuration
# (/etc/jitsi/jibri/jibri.conf):
#   jibri.recording.finalize-script = "/usr/local/bin/roomkeeper-finalize.sh"
#
#   roomkeeper-finalize.sh SESSION_DIRECTORY   what Jibri runs once a recording stopped
#   roomkeeper-finalize.sh --drain             the uploader (also run by the timer unit)
#
# Jibri takes no new recording until this script returns, so it only puts the session
# into a spool (a symbolic link: instant, whatever the size) and starts the uploader in
# the background. The uploader sends each spooled session to Roomkeeper with curl and
# retries with growing pauses until Roomkeeper took it in; only then are Jibri's files
# removed. A spool entry lives on disk: a reboot, an uploader killed, Roomkeeper down for
# days lose nothing; the timer unit (roomkeeper-jibri-upload.timer) starts the uploader
# again. Sending a session twice gives the same recordings.
#
# Settings (environment, or /etc/jitsi/jibri/roomkeeper-finalize.env):
#   ROOMKEEPER_URL=https://rooms.example.org                       (required)
#   ROOMKEEPER_INGEST_TOKEN_FILE=/etc/jitsi/jibri/roomkeeper-ingest-token  (required)
#   ROOMKEEPER_SPOOL=/var/spool/roomkeeper-jibri   writable by the jibri user
#   ROOMKEEPER_RETRY_SECONDS=10                    first pause; doubled up to 600
# The uploader reports what still waits to Roomkeeper (admins see it on /admin/recordings,
# the metric recordings_spool_waiting counts it) and logs to syslog (tag roomkeeper-jibri)
# and, started by this script, to $ROOMKEEPER_SPOOL/.uploader.log.
set -eu

env_file=${ROOMKEEPER_FINALIZE_ENV:-/etc/jitsi/jibri/roomkeeper-finalize.env}
if [ -r "$env_file" ]; then
  set -a
  . "$env_file"
  set +a
fi
spool=${ROOMKEEPER_SPOOL:-/var/spool/roomkeeper-jibri}

say() {
  echo "roomkeeper-finalize: $*" >&2
  logger -t roomkeeper-jibri -- "$*" 2>/dev/null || true
}

# Text that goes into JSON and the admin page: printable ASCII without quotes or
# backslashes, cut short.
plain() {
  printf '%s' "$1" | tr -c 'A-Za-z0-9 ._:/()=+-' ' ' | cut -c 1-200
}

# Sends one spooled session; its files and spool entry go once Roomkeeper answered 200.
deliver() {
  entry=$1
  session=$(basename "$entry")
  dir=$(readlink "$entry")
  if [ ! -d "$dir" ]; then
    # Delivered, then killed before the entry went; or removed by hand.
    say "$session: $dir is gone; dropping it from the spool"
    rm -f "$entry" "$spool/.errors/$session"
    return 0
  fi
  set -- -F "session=$session"
  if [ -f "$dir/metadata.json" ]; then
    set -- "$@" -F "metadata=@$dir/metadata.json;type=application/json"
  fi
  for video in "$dir"/*.mp4 "$dir"/*.webm "$dir"/*.mkv; do
    [ -f "$video" ] || continue
    set -- "$@" -F "video=@$video"
  done
  answer=$(mktemp)
  # The token goes to curl on its standard input (printf is built into the shell): in
  # curl's arguments anyone on this machine could read it with ps. The status is read
  # with --write-out: --fail-with-body needs curl 7.76, Debian 11 has 7.74.
  status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl --config - --silent --show-error --connect-timeout 10 --max-time 3600 \
      --output "$answer" --write-out '%{http_code}' \
      "$@" "$ROOMKEEPER_URL/api/v1/recordings/ingest" 2>"$answer.err") || true
  if [ "$status" = 200 ]; then
    rm -f "$answer" "$answer.err"
    rm -f "$dir"/*.mp4 "$dir"/*.webm "$dir"/*.mkv "$dir/metadata.json"
    rmdir "$dir" 2>/dev/null || true
    rm -f "$entry" "$spool/.errors/$session"
    say "$session: delivered"
    return 0
  fi
  why=$(plain "$(cat "$answer.err" "$answer" 2>/dev/null | tr '\n' ' ')")
  rm -f "$answer" "$answer.err"
  attempts=0
  [ ! -f "$spool/.errors/$session" ] || read -r attempts _ <"$spool/.errors/$session" || true
  attempts=$((attempts + 1))
  printf '%s HTTP %s %s\n' "$attempts" "${status:-000}" "$why" >"$spool/.errors/$session"
  say "$session: not delivered (attempt $attempts, HTTP ${status:-000}): $why"
  return 1
}

# Tells Roomkeeper what still waits here (best effort: when it is down, it cannot listen).
report() {
  host=$(plain "${ROOMKEEPER_SPOOL_HOST:-$(hostname)}" | tr -d ' ')
  body=$(mktemp)
  {
    printf '{"host":"%s","waiting":[' "$host"
    comma=
    for entry in "$spool"/*; do
      [ -L "$entry" ] || continue
      session=$(basename "$entry")
      attempts=0
      last=
      if [ -f "$spool/.errors/$session" ]; then
        read -r attempts last <"$spool/.errors/$session" || true
      fi
      printf '%s{"session":"%s","directory":"%s","since":%s,"attempts":%s,"last_error":"%s"}' \
        "$comma" "$session" "$(plain "$(readlink "$entry")")" \
        "$(stat -c %Y "$entry")" "${attempts:-0}" "$(plain "$last")"
      comma=,
    done
    printf ']}'
  } >"$body"
  printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl --config - --silent --connect-timeout 10 --max-time 60 --output /dev/null \
      -H 'Content-Type: application/json' --data-binary "@$body" \
      "$ROOMKEEPER_URL/api/v1/recordings/spool" || true
  rm -f "$body"
}

drain() {
  mkdir -p "$spool/.errors"
  # At most one uploader runs and at most one waits for it: a session spooled while one
  # waits is seen by that one's pass; the waiting one gives up its place once it runs.
  exec 8>"$spool/.waiting"
  flock -n 8 || exit 0
  exec 9>"$spool/.running"
  flock 9
  echo $$ >&9
  flock -u 8
  exec 8>&-
  # The background uploader's log (appended to): kept short.
  if [ "$(stat -c %s "$spool/.uploader.log" 2>/dev/null || echo 0)" -gt 1000000 ]; then
    : >"$spool/.uploader.log"
  fi
  pause=${ROOMKEEPER_RETRY_SECONDS:-10}
  first_pause=$pause
  while :; do
    left=0
    delivered=no
    for entry in "$spool"/*; do
      [ -L "$entry" ] || continue
      if deliver "$entry"; then delivered=yes; else left=$((left + 1)); fi
    done
    report
    [ "$left" -gt 0 ] || exit 0
    [ "$delivered" = no ] || pause=$first_pause
    sleep "$pause"
    pause=$((pause * 2))
    [ "$pause" -le 600 ] || pause=600
  done
}

: "${ROOMKEEPER_URL:?set ROOMKEEPER_URL in $env_file}"
token=$(cat "${ROOMKEEPER_INGEST_TOKEN_FILE:?set ROOMKEEPER_INGEST_TOKEN_FILE in $env_file}")

case ${1:?usage: roomkeeper-finalize.sh SESSION_DIRECTORY | --drain} in
--drain)
  drain
  ;;
*)
  dir=$(cd "$1" && pwd -P)
  session=$(basename "$dir")
  case $session in
  .* | *[!A-Za-z0-9_.-]*)
    say "$session is not a Jibri session name; left where it is"
    exit 1
    ;;
  esac
  mkdir -p "$spool/.errors" || { say "cannot write the spool $spool"; exit 1; }
  ln -sfn "$dir" "$spool/$session"
  # Detached from Jibri (its own session, none of its output), so Jibri's wait for this
  # script ends now.
  setsid "$0" --drain </dev/null >>"$spool/.uploader.log" 2>&1 &
  ;;
esac

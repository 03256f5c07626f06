#!/usr/bin/env bash
# Runs the README's run command (`make run`, under cargo lambda watch) and checks what it
# prints, then the same under the project's Runtime API emulator, then interrupts a third run
# with Ctrl-C (SIGINT to its process group) and checks that every process it started is gone.
# `make test` runs this after the cargo tests, so the first command of the README cannot rot.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "check-run: $*" >&2; exit 1; }
# What make run starts: moto, the sandbox and the function.
started() { pgrep -f 'moto_server -H 127.0.0.1|alexa-sandbox|cargo-lambda|debug/alexa-proactive' | wc -l; }
before=$(started)

# check_run LABEL EXPECTED-BANNER [make arguments...]
check_run() {
  local label=$1 banner=$2
  shift 2
  timeout 1200 make --no-print-directory run "$@" >"$out/run.log" 2>&1
  status=$?
  [ "$status" -eq 0 ] || { cat "$out/run.log"; fail "$label exited with $status"; }
  for sample in events/*.json; do
    grep -q "^$sample  ->  " "$out/run.log" || fail "$label: no answer printed for $sample"
  done
  expect "$banner"
  expect "HTTP 200, 6 alert(s), 2 to announce"
  expect 'notification to Ana [NA en-US]: "There is a tornado alert for your area. Provided by NWS Norman OK."'
  expect 'notification to Ben [NA de-DE]: "Für deine Region gibt es eine Tornadowarnung. Bereitgestellt von NWS Norman OK."'
  expect "fan-out: 4 message(s) consumed in 1 SQS batch(es)"
  # A tornado emergency listed beside its original is heard; its continuation is not.
  expect "of those: 1 escalation(s) (heard again: the danger rose)"
  expect '3 alert(s), 0 to announce, skipped {"alreadyTold":3}'
  expect 'Cleo (ZIP 10001, New York County, New York): heard nothing: no alert names their area'
  # Köln hears DWD's thunderstorm in German, London the Met Office's; neither hears Oklahoma's.
  expect 'dwd feed '
  expect '3 alert(s), 1 to announce, skipped {"advanceNotice":1,"otherEvent":1}'
  expect 'Jonas (PLZ 50667, Köln): heard 1 notification(s): "Für deine Region gibt es eine Gewitterwarnung. Bereitgestellt von Deutscher Wetterdienst."'
  expect 'Olivia (postcode SW1A 1AA, Greater London): heard 1 notification(s): "There is a thunder storm alert for your area. Provided by UK Met Office."'
  expect 'Dan (ZIP 73019, Cleveland County, Oklahoma): heard nothing: not subscribed to weather alerts'
  expect 'Alexa says: "Got it. I announce alerts for Cleveland County, Oklahoma."'
  expect 'Alexa says: "Done: a test alert is on its way.'
  expect "events/wrong-skill-id.json  ->  invocation error WrongSkillId"
  expect "events/eventbridge-invalid-alert.json  ->  invocation error MalformedInput"
  sleep 1
  [ "$(started)" -eq "$before" ] || { pgrep -fa 'moto_server|alexa-sandbox|cargo-lambda|alexa-proactive'; fail "$label left processes behind"; }
  echo "check-run: $label answered every sample and stopped every process"
}
expect() { grep -qF -- "$1" "$out/run.log" || { cat "$out/run.log"; fail "missing: $1"; }; }

check_run "make run" "alexa-proactive under cargo lambda watch"
check_run "make run LOCAL_RUNTIME=emulator" "under the project's Runtime API emulator" LOCAL_RUNTIME=emulator

# A function that cannot start (here a setting it refuses): make run says why at once, from
# the function's own log, instead of waiting out a timeout for every sample.
check_refused() {
  local label=$1
  shift
  FANOUT_SEND_RATE=99999 timeout 600 make --no-print-directory run "$@" >"$out/refused.log" 2>&1
  status=$?
  { [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; } || { cat "$out/refused.log"; fail "$label with a refused setting exited with $status"; }
  for line in "events/eventbridge-area-alert.json  ->  the function stopped before it answered" \
      'environment variable FANOUT_SEND_RATE has the value "99999"' \
      "the other samples were not sent: the function does not answer"; do
    grep -qF -- "$line" "$out/refused.log" || { cat "$out/refused.log"; fail "$label with a refused setting: missing: $line"; }
  done
  sleep 1
  [ "$(started)" -eq "$before" ] || { pgrep -fa 'moto_server|alexa-sandbox|cargo-lambda|alexa-proactive'; fail "$label with a refused setting left processes behind"; }
  echo "check-run: $label with a function that cannot start said why and stopped every process"
}
check_refused "make run"
check_refused "make run LOCAL_RUNTIME=emulator" LOCAL_RUNTIME=emulator

# Ctrl-C in the middle of a run: its own session, so the signal reaches only its group.
setsid make --no-print-directory run >"$out/interrupted.log" 2>&1 &
leader=$!
# As soon as everything is up (the banner).
for _ in $(seq 1 3000); do
  grep -q "^alexa-proactive under" "$out/interrupted.log" && break
  kill -0 "$leader" 2>/dev/null || break
  sleep 0.1
done
grep -q "^alexa-proactive under" "$out/interrupted.log" || { cat "$out/interrupted.log"; fail "the second run never started"; }
# Only ever signal the run's own group, never this script's.
[ "$(ps -o pgid= -p "$leader" | tr -d ' ')" = "$leader" ] || fail "setsid did not give the run its own process group"
kill -INT -- "-$leader"
for _ in $(seq 1 60); do kill -0 "$leader" 2>/dev/null || break; sleep 0.5; done
kill -0 "$leader" 2>/dev/null && { kill -KILL -- "-$leader"; fail "make run did not stop within 30 s of Ctrl-C"; }
sleep 1
[ "$(started)" -eq "$before" ] || { pgrep -fa 'moto_server|alexa-sandbox|cargo-lambda|alexa-proactive'; fail "Ctrl-C left processes behind"; }
if grep -q "interrupted; every process was stopped" "$out/interrupted.log"; then
  echo "check-run: Ctrl-C stopped every process"
else
  echo "check-run: the run had ended before Ctrl-C arrived; no process was left either"
fi

#!/bin/bash
# Horizontal scaling of `sluice` as a Redis consumer group, against the machine's own capacity.
#
#   bash bench/redis-horizontal.sh [LINES] [ROUNDS]      (defaults: 150000 lines, 3 rounds; needs dist/ and redis-server)
#
# A CPU-bound expression (a hash of each line, 60 rounds) over a generated access log, timed as:
#   files   one `sluice` process on the whole log; two at once, each on one half (the yardstick)
#   group   the log XADDed to a stream (untimed), then one consumer of a group, or two at once, until
#           the group has nothing pending and no lag
# Rounds are interleaved; medians are printed, then the group's speed-up over the files' speed-up
# (1.0: two consumers of a group scale as well as two independent processes on halves).
set -euo pipefail
LINES=${1:-150000}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLI=$ROOT/dist/cli/main.js
[ -f "$CLI" ] || { echo "dist/cli/main.js is not built: npm run build" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install -y redis-server)" >&2; exit 2; }
DIR=$(mktemp -d)
PORT=$(node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" >/dev/null &
REDIS=$!
trap 'kill $REDIS 2>/dev/null; rm -rf "$DIR"' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
node --import tsx "$ROOT/examples/gen-access-log.ts" --lines "$LINES" --out "$DIR/log.txt"
head -n $((LINES / 2)) "$DIR/log.txt" >"$DIR/a.txt"
tail -n +$((LINES / 2 + 1)) "$DIR/log.txt" >"$DIR/b.txt"
MAP='(() => { let h = 0; for (let r = 0; r < 60; r++) for (let i = 0; i < line.length; i++) h = (h * 31 + line.charCodeAt(i)) | 0; return String(h); })()'
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f\n", a - b }'; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 }"; }

one_file() {
  local t0; t0=$(now)
  node "$CLI" --map "$MAP" "$DIR/log.txt" >/dev/null
  since "$t0"
}
two_halves() {
  local t0; t0=$(now)
  node "$CLI" --map "$MAP" "$DIR/a.txt" >/dev/null &
  node "$CLI" --map "$MAP" "$DIR/b.txt" >/dev/null &
  wait
  since "$t0"
}
# $1 consumers, $2 a name for the stream and its group
group() {
  local stream=$2 t0 pids=() info
  node "$CLI" --to "redis://127.0.0.1:$PORT/$stream" "$DIR/log.txt"
  t0=$(now)
  for i in $(seq "$1"); do
    node "$CLI" --from "redis://127.0.0.1:$PORT/$stream" --group g --consumer "c$i" --quiet --map "$MAP" >/dev/null &
    pids+=($!)
  done
  while :; do
    info=$(redis-cli -p "$PORT" XINFO GROUPS "$stream" | tr '\n' ' ')
    [[ $info =~ pending\ 0\ .*lag\ 0 ]] && break
    sleep 0.02
  done
  since "$t0"
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  redis-cli -p "$PORT" DEL "$stream" >/dev/null
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: >"$DIR/times"
for r in $(seq "$ROUNDS"); do
  echo "one $(one_file)" >>"$DIR/times"
  echo "halves $(two_halves)" >>"$DIR/times"
  echo "g1 $(group 1 "s1r$r")" >>"$DIR/times"
  echo "g2 $(group 2 "s2r$r")" >>"$DIR/times"
  echo "round $r/$ROUNDS done" >&2
done
m() { grep "^$1 " "$DIR/times" | cut -d' ' -f2 | median; }
ONE=$(m one) HALVES=$(m halves) G1=$(m g1) G2=$(m g2)
echo "$LINES lines, CPU-bound --map, medians of $ROUNDS interleaved rounds"
echo "files:  one process $ONE s, two on halves $HALVES s: speed-up $(ratio "$ONE / $HALVES")x"
echo "group:  one consumer $G1 s, two consumers $G2 s: speed-up $(ratio "$G1 / $G2")x"
echo "efficiency (group's speed-up over the files'): $(ratio "($G1 / $G2) / ($ONE / $HALVES)")"

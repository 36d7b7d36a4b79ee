// `sluice --help`: every option (test/cli-units.test.ts checks that none is missing) and examples.

export const HELP = `Usage: sluice [options] [FILE...]

Reads the FILEs in order (stdin when there are none, or for -; gzip is read as its text), splits them
into lines, runs the stages given on the command line in that order, and writes one line per item to
stdout, keeping the input's line endings. --from and --to read and write a Redis stream instead.

An EXPR is a JavaScript expression of the current item, named \`line\` (also \`rec\`, handy with
--json), with awk's fields $1, $2, …, $NF, $(n) and NF, NR, FNR, FILENAME; or a function such as
\`l => l.trim()\` or \`async (url, { signal }) => …\`. \`await\` makes an expression async. A result of
undefined or null drops the item.

Stages (repeatable, run in command-line order):
      --map EXPR          replace each item by EXPR's value
      --filter EXPR       keep the items for which EXPR is truthy
      --flat-map EXPR     replace each item by the items of the iterable EXPR returns
      --batch N           group items into arrays of N (the last may be shorter)
      --rate N/s          let at most N items per second through (also N/min, N/h)
      --take N            stop after N items (stops reading the input, exits 0)
      --buffer N          hold up to N items for a slower stage after it; when full, hold the
                          input back, or with --drop drop items (counted, and told on stderr)
      --drop oldest|newest  what a full --buffer drops: the oldest item it holds, or the new one

Input:
      --json              parse each line as JSON (NDJSON); blank lines are skipped
      --csv, --tsv        read CSV/TSV records (quoted fields may span lines); the first record
                          names the columns, so a record is an object
      --no-header         with --csv/--tsv: records are arrays, the first record is data
  -F, --field-separator S  what separates awk's fields (default: runs of blanks)
      --skip N            skip the first N lines (records) of each input
  -a, --text              read binary input as text instead of refusing it
  -v, --arg NAME=VALUE    a variable every EXPR sees (repeatable)
      --begin EXPR        run once before the input; variables it assigns are shared by every EXPR
      --end EXPR          run once after the input; its value is printed

Output (by default strings as they are, any other value as one line of JSON):
      --to-json           every item as one line of JSON (NDJSON)
      --to-csv, --to-tsv  objects as CSV/TSV rows under a header of their keys; arrays as rows
  -o, --output FILE       write to FILE, atomically: FILE appears only if the run succeeds
  -i, --in-place          rewrite each FILE with its own output, atomically

Redis streams (URL: redis://HOST:PORT[/DB]/STREAM, or rediss:// for TLS):
      --from URL          read the stream's entries (their data field) as the input lines instead
                          of FILEs: the whole stream, then exit
      --to URL            write each output item as an entry (field data) instead of to stdout
      --follow            with --from: go on reading new entries until SIGINT/SIGTERM
      --group G           with --from: be one consumer of the consumer group G (made if missing)
                          and run until signalled: an entry is acknowledged once what came of it
                          is written (or it was dropped); the first SIGINT/SIGTERM finishes and
                          acknowledges the entries in flight and exits 0, a second one aborts
      --consumer NAME     with --group: this consumer's name (default: the host name)
      --start new|all     where a new group (or a read without one) starts: the whole stream
                          (all, the default) or entries added from now on (new)
      --claim-idle MS     with --group: take over entries another consumer left unacknowledged
                          for MS milliseconds (default 30000)
      --max-deliveries N  with --group: an entry delivered N times without success goes to the
                          dead-letter stream instead, with its last error (default 5)
      --dead-letter S     with --group: the dead-letter stream (default STREAM:dlq)
With --from, an entry is one line even if its data holds newlines, FILENAME is the stream's name,
and NR and FNR are undefined (entries have ids, not line numbers).

Running:
      --parallel N|auto   run async stages N items at a time (output in input order); auto: a
                          limit that grows while latency stays flat and shrinks when it climbs
                          or calls fail
      --unordered         with --parallel: output in completion order
      --partition-by EXPR  with --parallel N: lines of one key (EXPR's value) go through the
                          stages in order, N keys at a time; output merged as it comes
  -j, --threads N|auto    run the per-line stages on N threads (auto: one per core); output
                          and errors as with one
      --skip-errors       skip lines whose expression throws or whose JSON is malformed, and
                          report how many on stderr (otherwise such a line stops the run: exit 1);
                          with --group, such an entry goes to the dead-letter stream at once
                          (otherwise it stays pending, for another try, and the run exits 1)

Aggregates:
      --count-by EXPR     count items by EXPR's value; print "count key" lines, most frequent
                          first (like sort | uniq -c | sort -rn); with --to-json, {"key","count"}
                          lines; with --to-csv/--to-tsv, key and count columns
      --top N             with --count-by: only the N most frequent
      --stats             print lines in/out, bytes, time, lines/s and a table of the stages
                          (busy, starved, blocked) naming the bottleneck, to stderr
      --stats-json        the same as one JSON object on stderr

  -q, --quiet             no progress bar, no notes on stderr (errors are still reported)
  -h, --help              show this help
  -V, --version           show the version

A progress bar is shown on a terminal (stderr) while reading files.
Exit status: 0 done (also when --take or a closed pipe ended the run early, or a signal drained
--group or --follow), 1 error in the input or an expression (or every line skipped), 2 bad command
line or missing input, 130/143 interrupted by SIGINT/SIGTERM.

Examples:
  sluice --count-by '$9' access.log                      requests per HTTP status
  sluice --count-by '$7' --top 10 access.log             ten most requested paths
  sluice --filter '$9 >= 500' --map '$7' access.log      paths of server errors
  sluice --json --filter 'rec.level === "error"' app.ndjson
  sluice --json --map '({ id, user }) => ({ id, user })' -o slim.ndjson app.ndjson
  sluice --csv --filter 'rec.country === "FR"' --to-csv people.csv
  sluice --flat-map 'line.split(/\\W+/)' --filter line --count-by 'line.toLowerCase()' book.txt
  sluice --parallel auto --map 'async (url, { signal }) => url + " " + (await fetch(url, { signal })).status' urls.txt
  sluice --json --partition-by rec.user --parallel 16 --map 'async (rec, { signal }) => (await fetch(API, { method: "POST", body: JSON.stringify(rec), signal })).status' -v API=http://… events.ndjson
  sluice -i --map 'line.trimEnd()' *.txt                 strip trailing blanks in place
  zcat big.log.gz | sluice --take 5 --map 'line.length'
  sluice --from redis://localhost:6379/jobs --group workers --json --map rec.url --to redis://localhost:6379/urls
`;

package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// cell is one measured value in a table: the key, and how to print it.
type cell struct {
	key    string
	format string // fmt verb for the median, "%.2f" say
	unit   string
}

// row is a table row: a label and its cells; a zero cell is left blank.
type row struct {
	label string
	cells []cell
}

// table is one case's table.
type table struct {
	run   string // the case, as in Cases
	title string
	heads []string
	rows  []row
}

// Constructors of the common cells.
func ms(key string) cell     { return cell{key, "%.2f", " ms"} }
func ratio(key string) cell  { return cell{key, "%.3f", ""} }
func count(key string) cell  { return cell{key, "%.0f", ""} }
func rate(key string) cell   { return cell{key, "%.0f", "/s"} }
func ns(key string) cell     { return cell{key, "%.1f", " ns"} }
func hourly(key string) cell { return cell{key, "%.2f", ""} }
func secs(key string) cell   { return cell{key, "%.2f", " s"} }

// tables lays out every case.
func tables() []table {
	conn := func(label, k, ratioKey, extraKey string) row {
		p := "connect/" + k + "/"
		r := row{label, []cell{ms(p + "p50-ms"), ms(p + "p99-ms"), count(p + "allocs"), {}, {}}}
		if ratioKey != "" {
			r.cells[3], r.cells[4] = ratio(ratioKey), count(extraKey)
		}
		return r
	}
	query := func(label, k string) row {
		r := row{label, []cell{rate("query/select1/" + k + "/ops-s"), {}, rate("query/scan/" + k + "/ops-s"), {}}}
		if k != "pq" {
			r.cells[1], r.cells[3] = ratio("query/select1/"+k+"/ratio"), ratio("query/scan/"+k+"/ratio")
		}
		return r
	}
	traffic := func(label, k string) row {
		p := "traffic/" + k + "/"
		return row{label, []cell{ms(p + "p50-ms"), ms(p + "p99-ms"), ms(p + "max-ms"), count(p + "connects-per-hour"), hourly(p + "mints-per-hour")}}
	}
	return []table{
		{
			run:   "connect",
			title: "1. Connect: new connection, TLS, warm credential",
			heads: []string{"median", "p99", "allocs", "ratio to lib/pq", "extra allocs"},
			rows: []row{
				conn("lib/pq, fixed password, direct", "pq-direct", "", ""),
				conn("lakebase, TokenSource, direct", "lakebase-direct", "connect/direct/ratio", "connect/direct/extra-allocs"),
				conn("lib/pq, minted credential, gateway", "pq-gateway", "", ""),
				conn("lakebase, cached minted credential, gateway", "lakebase-gateway", "connect/gateway/ratio", "connect/gateway/extra-allocs"),
			},
		},
		{
			run:   "queries",
			title: "2. Queries: pool of 8, 8 goroutines",
			heads: []string{"SELECT 1", "ratio to lib/pq", "10,000-row scans", "ratio to lib/pq"},
			rows:  []row{query("lib/pq", "pq"), query("lakebase", "lakebase"), query("pgx stdlib (reference)", "pgx")},
		},
		{
			run:   "copy",
			title: "8. COPY FROM STDIN: 100,000 rows in one transaction, TLS",
			heads: []string{"rows per second", "ratio to lib/pq"},
			rows: []row{
				{"lib/pq", []cell{rate("copy/pq/rows-s"), {}}},
				{"lakebase", []cell{rate("copy/lakebase/rows-s"), ratio("copy/lakebase/ratio")}},
			},
		},
		{
			run:   "cache",
			title: "3. Credential cache hit",
			heads: []string{"time per op", "allocs per op", "less the clock"},
			rows: []row{
				{"time.Now() alone (the floor)", []cell{ns("cache/clock-ns"), {}, {}}},
				{"cache hit, 1 goroutine", []cell{ns("cache/get-1-ns"), count("cache/get-1-allocs"), ns("cache/get-1-minus-clock-ns")}},
				{"cache hit, 64 goroutines", []cell{ns("cache/get-64-ns"), count("cache/get-64-allocs"), {}}},
				{"Connector.Credential, 1 goroutine", []cell{ns("cache/credential-1-ns"), count("cache/credential-1-allocs"), {}}},
				{"Connector.Credential, 64 goroutines", []cell{ns("cache/credential-64-ns"), count("cache/credential-64-allocs"), {}}},
			},
		},
		{
			run:   "storm",
			title: "4. Storm: goroutines connecting at once, through the gateway",
			heads: []string{"p50", "p99", "mints", "failed", "p99 limit"},
			rows: []row{
				{"lib/pq, credential in hand", []cell{ms("storm/pq-gateway/p50-ms"), ms("storm/pq-gateway/p99-ms"), {}, count("storm/pq-gateway/failed"), {}}},
				{"lakebase, cold connector", []cell{
					ms("storm/lakebase-cold/p50-ms"), ms("storm/lakebase-cold/p99-ms"), count("storm/lakebase-cold/mints"),
					count("storm/lakebase-cold/failed"), ms("storm/limit-ms"),
				}},
				{"lakebase, cold connector, Credential only (no server)", []cell{
					ms("storm/credential-cold/p50-ms"), ms("storm/credential-cold/p99-ms"), count("storm/credential-cold/mints"),
					count("storm/credential-cold/failed"), {},
				}},
			},
		},
		{
			run:   "traffic",
			title: "5. Rotation: credentials of one (shrunk) hour, continuous connects",
			heads: []string{"slowest inside window", "slowest outside", "inside / outside", "connects inside", "mints per lifetime"},
			rows: []row{{"lakebase", []cell{
				ms("rotation/slowest-inside-ms"), ms("rotation/slowest-outside-ms"), ratio("rotation/inside-over-outside"),
				count("rotation/inside-connects"), hourly("rotation/mints-per-lifetime"),
			}}},
		},
		{
			run:   "traffic",
			title: "6. Naive strategies: the same traffic, credentials of one (shrunk) hour",
			heads: []string{"p50", "p99", "max", "connects per hour", "mints per hour"},
			rows: []row{
				traffic("lakebase", "lakebase"),
				traffic("mint per connection", "mint-per-connection"),
				traffic("fixed 15-minute cache", "fixed-15min"),
			},
		},
		{
			run:   "pgx",
			title: "7. pgx: lakebasepgx against a plain pgxpool holding a valid credential",
			heads: []string{"new connection, median", "allocs", "ratio to pgx", "acquire + SELECT 1", "allocs", "ratio to pgxpool"},
			rows: []row{
				{"pgx, fixed password, direct", []cell{
					ms("pgx/connect/pgx-direct/p50-ms"), count("pgx/connect/pgx-direct/allocs"), {},
					rate("pgx/select1/pgxpool/ops-s"), count("pgx/select1/pgxpool/allocs"), {},
				}},
				{"lakebasepgx, TokenSource, direct", []cell{
					ms("pgx/connect/lakebasepgx-direct/p50-ms"), count("pgx/connect/lakebasepgx-direct/allocs"), ratio("pgx/connect/direct/ratio"),
					rate("pgx/select1/lakebasepgx/ops-s"), count("pgx/select1/lakebasepgx/allocs"), ratio("pgx/select1/ratio"),
				}},
				{"pgx, minted credential, gateway", []cell{ms("pgx/connect/pgx-gateway/p50-ms"), count("pgx/connect/pgx-gateway/allocs"), {}, {}, {}, {}}},
				{"lakebasepgx, cached minted credential, gateway", []cell{
					ms("pgx/connect/lakebasepgx-gateway/p50-ms"), count("pgx/connect/lakebasepgx-gateway/allocs"), ratio("pgx/connect/gateway/ratio"), {}, {}, {},
				}},
			},
		},
		{
			run:   "pooler",
			title: "9. Pooler: through PgBouncer in transaction mode, TLS, warm credential",
			heads: []string{"connect, median", "p99", "ratio to lib/pq", "SELECT 1, pool of 8", "ratio to lib/pq"},
			rows: []row{
				{"lib/pq, minted credential, binary_parameters=yes", []cell{
					ms("pooler/connect/pq/p50-ms"), ms("pooler/connect/pq/p99-ms"), {}, rate("pooler/select1/pq/ops-s"), {},
				}},
				{"lakebase, pooled=true, cached minted credential", []cell{
					ms("pooler/connect/lakebase/p50-ms"), ms("pooler/connect/lakebase/p99-ms"), ratio("pooler/connect/ratio"),
					rate("pooler/select1/lakebase/ops-s"), ratio("pooler/select1/ratio"),
				}},
			},
		},
		{
			run:   "pooler",
			title: "10. Pooler: client connections held open at once through PgBouncer",
			heads: []string{
				"clients", "opened in", "failed connects", "held at once", "statements/s", "failed statements",
				"peak server backends", "PgBouncer pool", "max_connections",
			},
			rows: []row{{"lakebase, pooled=true", []cell{
				count("pooler/held/clients"), secs("pooler/held/open-s"), count("pooler/held/failed-connects"), count("pooler/held/live"),
				rate("pooler/held/statements-s"), count("pooler/held/failed-statements"),
				count("pooler/held/peak-backends"), count("pooler/held/pool-size"), count("pooler/held/max-connections"),
			}}},
		},
		usersTable(),
		coldStartTable(),
	}
}

// WriteReport writes every case's table, as Markdown, with each value the
// median over rounds and its spread, then the targets and whether each was
// met. It returns false when a checked target was missed.
func WriteReport(w io.Writer, r *Results, short bool) bool {
	for _, t := range tables() {
		if r.Ran(t.run) {
			writeTable(w, r, t)
		}
	}
	ok := writeVerdicts(w, Check(r, short))
	if len(r.Notes()) > 0 {
		fmt.Fprintf(w, "### Notes\n\n")
		for _, n := range r.Notes() {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(n, "\n", "; "))
		}
		fmt.Fprintln(w)
	}
	return ok
}

// writeTable writes one table.
func writeTable(w io.Writer, r *Results, t table) {
	fmt.Fprintf(w, "### %s\n\n| |%s|\n|---|%s\n", t.title, strings.Join(t.heads, " | "), strings.Repeat("---:|", len(t.heads)))
	for _, row := range t.rows {
		cells := make([]string, len(row.cells))
		for i, c := range row.cells {
			cells[i] = formatCell(r, c)
		}
		fmt.Fprintf(w, "| %s | %s |\n", row.label, strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
}

// formatCell writes a cell's median over rounds and, for more than one
// round, its spread: "3.21 ms ±2.1%".
func formatCell(r *Results, c cell) string {
	if c.key == "" || len(r.Values(c.key)) == 0 {
		return ""
	}
	s := fmt.Sprintf(c.format, r.Median(c.key)) + c.unit
	if vs := r.Values(c.key); len(vs) > 1 {
		if sp := r.Spread(c.key); !math.IsNaN(sp) {
			s += fmt.Sprintf(" ±%.1f%%", 100*sp)
		}
	}
	return s
}

// writeVerdicts writes the targets table and reports whether every checked
// target was met.
func writeVerdicts(w io.Writer, vs []Verdict) bool {
	ok := true
	fmt.Fprintf(w, "### Targets\n\n| target | measured | bound | result |\n|---|---:|---:|---|\n")
	for _, v := range vs {
		result := "met"
		switch {
		case !v.Ran:
			continue
		case !v.Checked && v.Met:
			result = "met (not enforced in a short run)"
		case !v.Checked:
			result = "missed (not enforced in a short run)"
		case !v.Met:
			result = "**MISSED**"
			ok = false
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", v.What, number(v.Value), v.bound(), result)
	}
	fmt.Fprintln(w)
	return ok
}

// number writes a value with as many digits as its size calls for.
func number(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "not measured"
	case v == math.Trunc(v) && a < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

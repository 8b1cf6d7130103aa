package main

// suite is how compare names the two runs of one script and what they
// prove.
type suite struct {
	a, b   string // the runs: the wrapped code alone, and through lakebase
	script string // where the intended differences are listed
	// uses ends the sentence on the tests that went through lakebase.
	uses string
	// same says what a failure in both runs means.
	same string
}

// suites are the scripts that run compare, by its -suite flag.
var suites = map[string]suite{
	"pq": {
		a: "postgres", b: "lakebase", script: "scripts/pq-suite.sh",
		uses: "opened a connection with sql.Open(driver); the others use pq.NewConnector, pq.Open, pq.DialOpen, NewListener or no connection, and run the same code in both runs",
		same: "failed through both drivers (the same; a problem of the setup or of lib/pq, not of lakebase)",
	},
	"pgxpool": {
		a: "pgxpool", b: "Configure", script: "scripts/pgxpool-suite.sh",
		uses: "made a pool through lakebasepgx.Configure; the others make none through it (they parse configurations, or hand pgxpool one that it refuses) and run the same code in both runs",
		same: "failed in both runs (the same; a problem of the setup or of pgx, not of lakebase)",
	},
}

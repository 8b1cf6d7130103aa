// Command pqsuite is the Go half of scripts/pq-suite.sh, which runs lib/pq's
// own test suite once through the postgres driver and once through lakebase
// and compares the per-test results, and of scripts/pgxpool-suite.sh, which
// does the same for pgx's pgxpool tests, plain and through
// lakebasepgx.Configure (-suite pgxpool). It has three subcommands:
//
//	pqsuite freeport
//	    prints a free TCP port on 127.0.0.1.
//	pqsuite run -dir DIR -out results.json [-timeout 3m] [-run re] [-skip re] [-race] [-log raw.jsonl] package...
//	    runs `go test -json -count=1` in DIR, one package at a time, in the
//	    current environment. A run that ends on -timeout is not the end: the
//	    tests that had run for half the timeout are recorded as hung, and the
//	    package runs again without them and without the tests that already
//	    finished, until every test has a result. A test that panics (and so
//	    ends the binary) keeps its failure; the tests it cut off run again.
//	pqsuite compare -a postgres.json -b lakebase.json -expect FILE -mode plain|tls [-suite pq|pgxpool] [-uses FILE] [-a2 F -b2 F] [-list F]
//	    prints the table of differences and exits 1 on any difference that the
//	    expect file does not list, on a listed one that did not happen, on a
//	    hang, on a failure outside any test, and when no test ran. With -list
//	    it only writes a -run pattern of the tests that differ unexpectedly;
//	    -a2 and -b2 are those tests run again alone, and a difference that the
//	    rerun does not show (the two agree, or differ the other way round) is
//	    reported as not reproduced instead.
//
// The expect file has one intended difference a line, fields separated by
// '|': mode (plain, tls or *), test name, result of the first run (through
// postgres; plain pgxpool), result of the second (through lakebase; through
// Configure), reason. Blank lines and lines starting with # are
// ignored.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Results of a test, as the comparison names them.
const (
	pass    = "pass"
	fail    = "fail"
	skip    = "skip"
	hang    = "hang"    // still running when -test.timeout ended the binary
	crash   = "crash"   // still running when the binary died another way
	missing = "missing" // not run at all
)

// result is one test's outcome in one run.
type result struct {
	Result  string   `json:"result"`
	Elapsed float64  `json:"elapsed"`
	Output  []string `json:"output,omitempty"`
}

// runResults is what `run` writes and `compare` reads.
type runResults struct {
	Tests    map[string]*result `json:"tests"`
	Package  string             `json:"package"` // the package's own outcome in the last binary run
	Runs     int                `json:"runs"`    // binary runs (more than one after a hang)
	Hangs    []string           `json:"hangs,omitempty"`
	Seconds  float64            `json:"seconds"`
	MainFail []string           `json:"main_fail,omitempty"` // output outside any test of a failed binary run
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: pqsuite freeport|run|compare ...")
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "run":
		err = runCmd(os.Args[2:])
	case "compare":
		var ok bool
		ok, err = compareCmd(os.Args[2:])
		if err == nil && !ok {
			os.Exit(1)
		}
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fatalf("pqsuite %s: %v", os.Args[1], err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// event is one line of test2json's output.
type event struct {
	Action  string
	Test    string
	Elapsed float64
	Output  string
}

const keepLines = 40 // output lines kept per test, the last ones

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dir := fs.String("dir", ".", "module directory to run go test in")
	module := fs.String("module", "github.com/lib/pq", "module path: its root package's tests are named plainly, the others' dir:Test")
	out := fs.String("out", "", "results file to write")
	timeout := fs.Duration("timeout", 3*time.Minute, "go test -timeout of each run of a package")
	skipRE := fs.String("skip", "", "go test -skip of every run")
	runRE := fs.String("run", "", "go test -run of every run")
	parallel := fs.Int("parallel", 0, "go test -parallel (0: go test's default)")
	rawLog := fs.String("log", "", "append go test -json's raw output here")
	race := fs.Bool("race", false, "go test -race")
	maxRuns := fs.Int("max-runs", 8, "give up on a package after this many runs (each hang costs one)")
	_ = fs.Parse(args)
	if *out == "" || fs.NArg() == 0 {
		return errors.New("usage: pqsuite run -out FILE [flags] package...")
	}
	var raw io.Writer = io.Discard
	if *rawLog != "" {
		f, err := os.OpenFile(*rawLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		raw = f
	}
	res := &runResults{Tests: map[string]*result{}, Package: pass}
	start := time.Now()
	for _, pkg := range fs.Args() {
		if err := runPackage(*dir, *module, pkg, *timeout, *runRE, *skipRE, *parallel, *race, *maxRuns, raw, res); err != nil {
			return err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	b, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

// runPackage runs one package's tests into res, again without the hung
// tests and the finished ones after a hang.
func runPackage(dir, module, pkg string, timeout time.Duration, runRE, skipRE string, parallel int, race bool, maxRuns int, raw io.Writer, res *runResults) error {
	prefix := "" // the package's tests are named prefix+Test
	if rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/"); rel != "" && rel != "." {
		prefix = strings.TrimPrefix(rel, "./") + ":"
	}
	pres := &runResults{Tests: map[string]*result{}}
	done := map[string]bool{} // top-level tests that need no rerun
	for runs := 1; ; runs++ {
		res.Runs++
		skips := []string{}
		if skipRE != "" {
			skips = append(skips, skipRE)
		}
		if len(done) > 0 {
			var names []string
			for n := range done {
				names = append(names, regexp.QuoteMeta(n))
			}
			slices.Sort(names)
			skips = append(skips, "^("+strings.Join(names, "|")+")$")
		}
		targs := []string{"test", "-json", "-count=1", "-timeout=" + timeout.String()}
		if race {
			targs = append(targs, "-race")
		}
		if runRE != "" {
			targs = append(targs, "-run="+runRE)
		}
		if parallel > 0 {
			targs = append(targs, fmt.Sprintf("-parallel=%d", parallel))
		}
		if len(skips) > 0 {
			targs = append(targs, "-skip="+strings.Join(skips, "|"))
		}
		targs = append(targs, pkg)
		timedOut, running, pkgResult, mainOut, cutOff, err := runOnce(dir, targs, timeout, pres, raw)
		if err != nil {
			return err
		}
		for name, r := range pres.Tests {
			if r.Result != "" && !strings.Contains(name, "/") {
				done[name] = true
			}
		}
		if pkgResult == "" {
			pkgResult = fail // no outcome: the build failed, or go test did
		}
		unfinished := false
		for _, r := range pres.Tests {
			if r.Result == "" {
				unfinished = true
			}
		}
		if cutOff && unfinished && !timedOut {
			fmt.Fprintf(os.Stderr, "pqsuite: %s: a test panicked and ended the binary; running the package's remaining tests again\n", pkg)
			if runs >= maxRuns {
				return fmt.Errorf("%s: gave up after %d runs", pkg, runs)
			}
			continue
		}
		if !timedOut && len(running) == 0 {
			testFailed := false
			for _, r := range pres.Tests {
				if r.Result != pass && r.Result != skip {
					testFailed = true
				}
			}
			if pkgResult == fail && !testFailed {
				// No test failed: TestMain did (lib/pq's checks that no
				// connection is left open), or the build.
				res.Package = fail
				res.MainFail = append(res.MainFail, mainOut...)
			}
			break
		}
		// The binary ended with tests still running: a hang (timeout) or a
		// crash. Record them, and run the rest.
		kind := crash
		if timedOut {
			kind = hang
		} else {
			res.MainFail = append(res.MainFail, mainOut...)
		}
		for _, name := range running {
			pres.Tests[name].Result = kind
			res.Hangs = append(res.Hangs, prefix+name)
			top, _, _ := strings.Cut(name, "/")
			done[top] = true
			if t := pres.Tests[top]; t != nil && t.Result == "" {
				t.Result = kind
			}
		}
		fmt.Fprintf(os.Stderr, "pqsuite: %s: %s in %s; running the package's remaining tests again without it\n",
			pkg, kind, strings.Join(running, ", "))
		if runs >= maxRuns {
			return fmt.Errorf("%s: gave up after %d runs (each hung or crashed)", pkg, runs)
		}
	}
	for name, r := range pres.Tests {
		if r.Result == "" {
			r.Result = missing
		}
		res.Tests[prefix+name] = r
	}
	return nil
}

// runOnce runs go test once. It reports whether it ended on
// -test.timeout, the tests still running at its end (the innermost ones),
// the package's outcome, and the output that belongs to no test.
func runOnce(dir string, args []string, timeout time.Duration, res *runResults, raw io.Writer) (timedOut bool, running []string, pkgResult string, mainOut []string, cutOff bool, err error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false, nil, "", nil, false, err
	}
	if err := cmd.Start(); err != nil {
		return false, nil, "", nil, false, err
	}
	open := map[string]bool{} // started and not paused, no result yet
	var atPanic map[string]bool
	var afterPanic []string // output after the timeout panic: its list of running tests
	testPanicked := false   // a test panicked (and took the binary down)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = raw.Write(append(line, '\n'))
		var ev event
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		if ev.Action == "output" {
			switch {
			case strings.HasPrefix(ev.Output, "panic: test timed out after") && atPanic == nil:
				timedOut = true
				atPanic = maps.Clone(open)
			case atPanic != nil:
				afterPanic = append(afterPanic, strings.TrimRight(ev.Output, "\n"))
			case strings.HasPrefix(ev.Output, "panic: ") && ev.Test != "":
				testPanicked = true
			}
		}
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				mainOut = appendLine(mainOut, ev.Output)
			case pass, fail, skip:
				pkgResult = ev.Action
			case "build-output":
				mainOut = appendLine(mainOut, ev.Output)
			}
			continue
		}
		r := res.Tests[ev.Test]
		if r == nil {
			r = &result{}
			res.Tests[ev.Test] = r
		}
		switch ev.Action {
		case "run":
			open[ev.Test] = true
			r.Result, r.Output = "", nil
		case "cont":
			open[ev.Test] = true
		case "pause":
			delete(open, ev.Test)
		case "output":
			r.Output = appendLine(r.Output, ev.Output)
		case pass, fail, skip:
			delete(open, ev.Test)
			if atPanic == nil { // after the panic test2json fails what was running
				r.Result, r.Elapsed = ev.Action, ev.Elapsed
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, nil, "", nil, false, err
	}
	_ = cmd.Wait() // a failing test fails the binary: the events say what failed
	if atPanic != nil {
		open = atPanic
		// The panic lists the running tests with how long each has run;
		// those that ran for at least half the timeout hung, the others
		// (parallel ones, say) were only caught by it and run again.
		long := map[string]bool{}
		for _, l := range afterPanic {
			name, dur, ok := strings.Cut(strings.TrimSpace(l), " (")
			if d, err := time.ParseDuration(strings.TrimSuffix(dur, ")")); ok && err == nil && d >= timeout/2 {
				long[name] = true
			}
		}
		if len(long) > 0 {
			open = long
		}
	} else if testPanicked {
		// A test's panic took the binary down: that test has its fail; the
		// others still open were cut off and run again.
		open = nil
	}
	for name := range open {
		// Only the innermost: a parent is running while its subtest hangs.
		inner := true
		for o := range open {
			if strings.HasPrefix(o, name+"/") {
				inner = false
			}
		}
		if inner {
			running = append(running, name)
		}
	}
	slices.Sort(running)
	return timedOut, running, pkgResult, mainOut, testPanicked, nil
}

func appendLine(lines []string, s string) []string {
	lines = append(lines, strings.TrimRight(s, "\n"))
	if len(lines) > keepLines {
		lines = lines[len(lines)-keepLines:]
	}
	return lines
}

// expectation is one intended difference.
type expectation struct {
	mode, test, a, b, reason string
	seen                     bool
}

// matches reports whether the expectation is about test: its name, or, for
// a name ending in *, any test it begins.
func (e *expectation) matches(test string) bool {
	if p, ok := strings.CutSuffix(e.test, "*"); ok {
		return strings.HasPrefix(test, p)
	}
	return e.test == test
}

func readExpect(path, mode string) ([]*expectation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*expectation
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "|", 5)
		if len(f) != 5 {
			return nil, fmt.Errorf("%s:%d: want mode|test|first run's result|second run's result|reason", path, i+1)
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		if f[4] == "" {
			return nil, fmt.Errorf("%s:%d: an intended difference needs its reason", path, i+1)
		}
		if f[0] == "*" || f[0] == mode {
			out = append(out, &expectation{mode: f[0], test: f[1], a: f[2], b: f[3], reason: f[4]})
		}
	}
	return out, nil
}

func readResults(path string) (*runResults, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r runResults
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// counts tallies a run's results.
func counts(r *runResults) map[string]int {
	c := map[string]int{}
	for _, t := range r.Tests {
		c[t.Result]++
	}
	return c
}

func compareCmd(args []string) (bool, error) {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	aPath := fs.String("a", "", "results of the first run (through postgres)")
	bPath := fs.String("b", "", "results of the second run (through lakebase)")
	suiteName := fs.String("suite", "pq", "pq or pgxpool: how the runs are named")
	expectPath := fs.String("expect", "", "intended differences")
	mode := fs.String("mode", "plain", "plain or tls: which intended differences apply")
	usesPath := fs.String("uses", "", "file naming, a line each, the top-level tests that opened a connection through the driver name")
	verbose := fs.Bool("v", false, "print the output of each test that differs")
	a2Path := fs.String("a2", "", "results of the first run's rerun of the differing tests")
	b2Path := fs.String("b2", "", "results of the second run's rerun")
	listPath := fs.String("list", "", "write here a -run pattern of the packages' top-level tests that differ unexpectedly (hangs aside), to rerun them; print nothing else")
	_ = fs.Parse(args)
	s, known := suites[*suiteName]
	if !known {
		return false, fmt.Errorf("unknown -suite %q", *suiteName)
	}
	a, err := readResults(*aPath)
	if err != nil {
		return false, err
	}
	b, err := readResults(*bPath)
	if err != nil {
		return false, err
	}
	var a2, b2 *runResults
	if *a2Path != "" && *b2Path != "" {
		if a2, err = readResults(*a2Path); err != nil {
			return false, err
		}
		if b2, err = readResults(*b2Path); err != nil {
			return false, err
		}
	}
	var expect []*expectation
	if *expectPath != "" {
		if expect, err = readExpect(*expectPath, *mode); err != nil {
			return false, err
		}
	}
	if *listPath != "" {
		return true, writeRerunList(*listPath, a, b, expect)
	}
	ok := true
	for _, run := range []struct {
		name string
		r    *runResults
	}{{s.a, a}, {s.b, b}} {
		c := counts(run.r)
		fmt.Printf("  %-9s %4d tests (subtests included): %d passed, %d failed, %d skipped, %d hung, %d crashed; %d binary run(s), %.0fs\n",
			run.name+":", len(run.r.Tests), c[pass], c[fail], c[skip], c[hang], c[crash], run.r.Runs, run.r.Seconds)
		if len(run.r.Tests) == 0 {
			fmt.Printf("  FAIL: no test ran through %s\n", run.name)
			ok = false
		}
		if len(run.r.Hangs) > 0 {
			fmt.Printf("  FAIL: through %s these tests hung (a hang is never a pass): %s\n", run.name, strings.Join(run.r.Hangs, ", "))
			ok = false
		}
		if run.r.Package == fail {
			fmt.Printf("  FAIL: the %s run failed outside any test (TestMain or the build):\n", run.name)
			for _, l := range run.r.MainFail {
				fmt.Printf("      %s\n", l)
			}
			ok = false
		}
	}

	if *usesPath != "" {
		ub, err := os.ReadFile(*usesPath)
		if err != nil {
			return false, err
		}
		uses := map[string]bool{}
		for _, l := range strings.Fields(string(ub)) {
			uses[l] = true
		}
		top, topUsing, all, allUsing := 0, 0, 0, 0
		for name := range b.Tests {
			t, _, _ := strings.Cut(name, "/")
			all++
			if uses[t] {
				allUsing++
			}
			if t == name {
				top++
				if uses[t] {
					topUsing++
				}
			}
		}
		fmt.Printf("  through %s: %d of %d top-level tests (%d of %d with subtests) %s\n",
			s.b, topUsing, top, allUsing, all, s.uses)
		if topUsing == 0 {
			fmt.Printf("  FAIL: no test went through %s: the comparison proves nothing\n", s.b)
			ok = false
		}
	}

	names := map[string]bool{}
	for n := range a.Tests {
		names[n] = true
	}
	for n := range b.Tests {
		names[n] = true
	}
	type diff struct {
		name, a, b    string
		exp           *expectation
		notReproduced bool // differed, but agreed when rerun alone, or differed the other way round
	}
	var diffs []diff
	bothFail := []string{}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		ra, rb := missing, missing
		if r := a.Tests[n]; r != nil {
			ra = r.Result
		}
		if r := b.Tests[n]; r != nil {
			rb = r.Result
		}
		if ra == rb {
			if ra == fail {
				bothFail = append(bothFail, n)
			}
			continue
		}
		d := diff{name: n, a: ra, b: rb}
		for _, e := range expect {
			if e.matches(n) && e.a == ra && e.b == rb {
				d.exp, e.seen = e, true
			}
		}
		if d.exp == nil && a2 != nil && a2.Tests[n] != nil && b2.Tests[n] != nil && ra != hang && rb != hang {
			// The other way round is no reproduction either: a test that
			// fails through one driver and then through the other is
			// timing-dependent through both (lib/pq's TestQueryRowContext
			// wants a cancel back within 50 ms).
			r2a, r2b := a2.Tests[n].Result, b2.Tests[n].Result
			if r2a == r2b || (r2a == rb && r2b == ra) {
				d.notReproduced = true
			}
		}
		diffs = append(diffs, d)
	}
	if len(bothFail) > 0 {
		fmt.Printf("  %s: %s\n", s.same, strings.Join(bothFail, ", "))
	}
	if len(diffs) == 0 {
		fmt.Printf("  no differences\n")
	} else {
		fmt.Printf("\n  %-60s %-9s %-9s %s\n", "test", s.a, s.b, "")
		for _, d := range diffs {
			note := "UNEXPECTED"
			switch {
			case d.exp != nil:
				note = "intended: " + d.exp.reason
			case d.notReproduced && a2.Tests[d.name].Result == b2.Tests[d.name].Result:
				note = fmt.Sprintf("NOT REPRODUCED: run again alone, %s through both (a timing-dependent test under load)", a2.Tests[d.name].Result)
			case d.notReproduced:
				note = fmt.Sprintf("NOT REPRODUCED: run again alone, %s through %s and %s through %s, the other way round (a timing-dependent test under load)",
					a2.Tests[d.name].Result, s.a, b2.Tests[d.name].Result, s.b)
			default:
				ok = false
			}
			fmt.Printf("  %-60s %-9s %-9s %s\n", d.name, d.a, d.b, note)
		}
		for _, d := range diffs {
			if (d.exp != nil || d.notReproduced) && !*verbose {
				continue
			}
			for _, run := range []struct {
				name string
				r    *runResults
			}{{s.a, a}, {s.b, b}} {
				fmt.Printf("\n  --- %s through %s (%s):\n", d.name, run.name, map[bool]string{true: d.a, false: d.b}[run.name == s.a])
				if r := run.r.Tests[d.name]; r != nil {
					for _, l := range r.Output {
						fmt.Printf("      %s\n", l)
					}
				}
			}
		}
	}
	for _, e := range expect {
		if !e.seen {
			fmt.Printf("  FAIL: intended difference did not happen (update the list in %s): %s: %s %s, %s %s\n", s.script, e.test, s.a, e.a, s.b, e.b)
			ok = false
		}
	}
	return ok, nil
}

// writeRerunList writes a -run pattern of the top-level tests with an
// unexpected difference that is not a hang.
func writeRerunList(path string, a, b *runResults, expect []*expectation) error {
	tops := map[string]bool{}
	for n, r := range a.Tests {
		rb := missing
		if t := b.Tests[n]; t != nil {
			rb = t.Result
		}
		if r.Result == rb || r.Result == hang || rb == hang || r.Result == crash || rb == crash {
			continue
		}
		if slices.ContainsFunc(expect, func(e *expectation) bool { return e.matches(n) && e.a == r.Result && e.b == rb }) {
			continue
		}
		top, _, _ := strings.Cut(n, "/")
		if _, t, ok := strings.Cut(top, ":"); ok {
			top = t // dir:Test: -run matches the name within its package
		}
		tops[regexp.QuoteMeta(top)] = true
	}
	pattern := ""
	if len(tops) > 0 {
		pattern = "^(" + strings.Join(slices.Sorted(maps.Keys(tops)), "|") + ")$"
	}
	return os.WriteFile(path, []byte(pattern), 0o644)
}

package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// resultsOf builds Results of every case from values per round.
func resultsOf(values map[string][]float64) *Results {
	r := NewResults()
	for _, c := range Cases {
		r.ran[c] = true
	}
	for k, vs := range values {
		for _, v := range vs {
			r.add(k, v)
		}
	}
	return r
}

func TestTargetMeets(t *testing.T) {
	cases := []struct {
		name         string
		t            Target
		value, bound float64
		want         bool
	}{
		{"at most, under", Target{}, 1.02, 1.03, true},
		{"at most, equal", Target{}, 1.03, 1.03, true},
		{"at most, over", Target{}, 1.04, 1.03, false},
		{"at least, over", Target{AtLeast: true}, 0.99, 0.98, true},
		{"at least, under", Target{AtLeast: true}, 0.97, 0.98, false},
		{"below, equal", Target{Below: true}, 200, 200, false},
		{"below, under", Target{Below: true}, 199, 200, true},
		{"equal", Target{Equal: true}, 1, 1, true},
		{"equal, two", Target{Equal: true}, 2, 1, false},
		{"not measured", Target{}, nan(), 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.t.meets(tc.value, tc.bound); got != tc.want {
				t.Errorf("meets(%v, %v) = %v, want %v", tc.value, tc.bound, got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	r := resultsOf(map[string][]float64{
		"connect/direct/ratio":        {1.01, 1.10, 1.02}, // median 1.02: met
		"connect/gateway/ratio":       {1.05, 1.06, 1.00}, // median 1.05: missed
		"storm/lakebase-cold/mints":   {1, 2, 1},          // one round minted twice
		"storm/lakebase-cold/p99-ms":  {90, 95, 100},
		"storm/limit-ms":              {120, 80, 120}, // the bound is the limit's median
		"rotation/mints-per-lifetime": {1.05, 1.07, 1.06},
		"pooler/held/clients":         {2000, 2000, 2000},
		"pooler/held/live":            {2000, 1999, 2000}, // one round lost a session
		"pooler/held/peak-backends":   {20, 26, 12},       // one round over the pool + 5
	})
	byKey := func(vs []Verdict, key string) Verdict {
		for _, v := range vs {
			if v.Key == key {
				return v
			}
		}
		t.Fatalf("no verdict for %s", key)
		return Verdict{}
	}
	for _, short := range []bool{false, true} {
		vs := Check(r, short)
		for _, want := range []struct {
			key          string
			value        float64
			checked, met bool
		}{
			{"connect/direct/ratio", 1.02, !short, true},
			{"connect/gateway/ratio", 1.05, !short, false},
			{"storm/lakebase-cold/mints", 2, true, false},
			{"storm/lakebase-cold/p99-ms", 95, !short, true},
			{"rotation/mints-per-lifetime", 1.06, true, true},
			{"pooler/held/live", 1999, true, false},
			{"pooler/held/peak-backends", 26, true, false},
			{"query/scan/lakebase/ratio", nan(), !short, false},
		} {
			v := byKey(vs, want.key)
			if !same(v.Value, want.value) || v.Checked != want.checked || v.Met != want.met {
				t.Errorf("short=%v %s: value %v checked %v met %v, want %v %v %v",
					short, want.key, v.Value, v.Checked, v.Met, want.value, want.checked, want.met)
			}
		}
	}
}

func TestCheckSkipsCasesNotRun(t *testing.T) {
	r := resultsOf(map[string][]float64{"rotation/mints-per-lifetime": {1.05}})
	delete(r.ran, "queries")
	for _, v := range Check(r, false) {
		if want := v.Case != "queries"; v.Ran != want || (!v.Ran && v.Checked) {
			t.Errorf("%s: ran %v checked %v, want ran %v", v.Key, v.Ran, v.Checked, want)
		}
	}
	var out bytes.Buffer
	WriteReport(&out, r, false)
	if strings.Contains(out.String(), "Queries") || strings.Contains(out.String(), "SELECT 1 throughput") {
		t.Errorf("report shows a case not run:\n%s", out.String())
	}
}

func TestPlanCases(t *testing.T) {
	p, err := Options{Cases: []string{"storm", "connect"}}.plan()
	if err != nil || !slices.Equal(p.cases, []string{"connect", "storm"}) {
		t.Errorf("plan cases = %v, %v; want connect, storm in the suite's order", p.cases, err)
	}
	if _, err := (Options{Cases: []string{"storms"}}).plan(); err == nil || !strings.Contains(err.Error(), `"storms"`) {
		t.Errorf("plan with an unknown case = %v, want an error naming it", err)
	}
}

func TestWriteReport(t *testing.T) {
	r := resultsOf(map[string][]float64{
		"cache/get-1-allocs":            {0, 0},
		"storm/lakebase-cold/mints":     {1, 1},
		"storm/credential-cold/mints":   {1, 1},
		"storm/lakebase-cold/failed":    {0, 0},
		"rotation/mints-per-lifetime":   {1.05, 1.07},
		"connect/pq-direct/p50-ms":      {3, 3.3},
		"pooler/held/clients":           {200, 200},
		"pooler/held/live":              {200, 200},
		"pooler/held/failed-connects":   {0, 0},
		"pooler/held/failed-statements": {0, 0},
		"pooler/held/peak-backends":     {16, 20},
		"users/mints-per-user":          {1, 1},
		"users/peak-conns-per-user":     {3, 2},
		"users/failed":                  {0, 0},
	})
	var out bytes.Buffer
	if !WriteReport(&out, r, true) {
		t.Errorf("short report failed; only always-checked targets count, and all are met:\n%s", out.String())
	}
	for _, want := range []string{"| lib/pq, fixed password, direct | 3.15 ms ±4.8% |", "not enforced in a short run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if WriteReport(&out, r, false) {
		t.Errorf("full report passed with most values missing:\n%s", out.String())
	}
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1: "1", 1.0234: "1.023", 12.34: "12.3", 187.6: "188", 0.5: "0.500"} {
		if got := number(v); got != want {
			t.Errorf("number(%v) = %q, want %q", v, got, want)
		}
	}
	if got := number(nan()); got != "not measured" {
		t.Errorf("number(NaN) = %q", got)
	}
}

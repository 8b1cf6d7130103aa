package main

// Results holds every metric's value from each round, by key
// ("connect/lakebase-direct/p50-ms", say).
type Results struct {
	values map[string][]float64
	notes  []string
	ran    map[string]bool // the cases run
}

// NewResults returns empty Results.
func NewResults() *Results {
	return &Results{values: make(map[string][]float64), ran: make(map[string]bool)}
}

// Ran reports whether the case named name was run.
func (r *Results) Ran(name string) bool { return r.ran[name] }

// add records one round's value of key.
func (r *Results) add(key string, v float64) { r.values[key] = append(r.values[key], v) }

// note records something the report should say, such as failures a case
// survived.
func (r *Results) note(s string) { r.notes = append(r.notes, s) }

// Notes returns what the cases noted, in order.
func (r *Results) Notes() []string { return r.notes }

// Values returns every round's value of key, in round order.
func (r *Results) Values(key string) []float64 { return r.values[key] }

// Median returns the median over rounds of key, NaN when never measured.
func (r *Results) Median(key string) float64 { return median(r.values[key]) }

// Spread returns the spread over rounds of key (see spread).
func (r *Results) Spread(key string) float64 { return spread(r.values[key]) }

//go:build !unix

package pgserver

// passFileLimit has nothing to pass where there are no rlimits.
func passFileLimit() {}

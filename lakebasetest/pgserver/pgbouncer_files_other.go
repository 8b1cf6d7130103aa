//go:build !unix

package lakebasetest

// passFileLimit has nothing to pass where there are no rlimits.
func passFileLimit() {}

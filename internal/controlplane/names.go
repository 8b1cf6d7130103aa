package controlplane

import (
	"fmt"
	"strconv"
	"strings"
)

// CheckInstanceName reports whether name can be a Provisioned instance name:
// not empty, and nothing that would change the request's URL (the SDK puts
// the name into the path as it is).
func CheckInstanceName(name string) error {
	if err := checkSegment(name); err != nil {
		return fmt.Errorf("instance name %s: %w", strconv.Quote(name), err)
	}
	return nil
}

// CheckEndpointPath reports whether path is an Autoscaling endpoint path,
// projects/P/branches/B/endpoints/E.
func CheckEndpointPath(path string) error {
	parts := strings.Split(path, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "branches" || parts[4] != "endpoints" {
		return fmt.Errorf("endpoint %s is not projects/P/branches/B/endpoints/E", strconv.Quote(path))
	}
	for _, p := range []string{parts[1], parts[3], parts[5]} {
		if err := checkSegment(p); err != nil {
			return fmt.Errorf("endpoint %s: %w", strconv.Quote(path), err)
		}
	}
	return nil
}

// checkSegment accepts one non-empty path segment without characters that
// a URL path would treat specially.
func checkSegment(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("/?#%\\", r) {
			return fmt.Errorf("has the character %q", r)
		}
	}
	return nil
}

// The ways errors name their target.
func instanceTarget(name string) string { return "instance " + strconv.Quote(name) }
func endpointTarget(path string) string { return "endpoint " + strconv.Quote(path) }
func hostTarget(host string) string     { return "host " + strconv.Quote(host) }

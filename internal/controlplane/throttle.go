package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ThrottledError is the cause of a mint that the workspace refused with 429
// Too Many Requests. The SDK would retry such a call on its own schedule,
// ignoring Retry-After, for up to its retry timeout (minutes); the driver's
// credential cache waits as told instead, so a mint is never retried by the
// SDK on a 429.
type ThrottledError struct {
	// Wait is the workspace's Retry-After; zero when it gave none.
	Wait time.Duration
}

// Error says that the workspace throttles, and for how long.
func (e *ThrottledError) Error() string {
	if e.Wait <= 0 {
		return "the workspace is throttling requests (429 Too Many Requests)"
	}
	return fmt.Sprintf("the workspace is throttling requests (429 Too Many Requests); it asks to retry after %s", e.Wait)
}

// RetryAfter is the workspace's Retry-After, which the credential cache
// honours before its next attempt.
func (e *ThrottledError) RetryAfter() time.Duration { return e.Wait }

// reportThrottleKey marks the context of a call whose 429 answer the
// transport turns into a *ThrottledError.
type reportThrottleKey struct{}

// reportThrottling marks ctx: a 429 answer to a call made under it fails at
// once with a *ThrottledError instead of being retried by the SDK.
func reportThrottling(ctx context.Context) context.Context {
	return context.WithValue(ctx, reportThrottleKey{}, true)
}

// throttleTransport is the HTTP transport of the driver's SDK clients: it
// passes every request to base, and turns a 429 answer to a marked request
// into a *ThrottledError. The SDK does not retry transport errors whose text
// is not one of its transient network failures. It also notes failed
// requests in failures (see checkAnswer).
type throttleTransport struct {
	base        http.RoundTripper
	now         func() time.Time  // for a Retry-After given as a date
	failures    *Failures         // may be nil
	unreachable *firstUnreachable // may be nil
}

// RoundTrip implements http.RoundTripper. A failure that retrying cannot
// cure becomes an *UnreachableError, which the SDK does not retry.
func (t throttleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err = checkAnswer(r, resp, err, t.failures); err != nil {
		if ue, ok := err.(*UnreachableError); ok {
			t.unreachable.note(ue)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusTooManyRequests || r.Context().Value(reportThrottleKey{}) == nil {
		return resp, err
	}
	wait := parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	// Read a little of the body so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return nil, &ThrottledError{Wait: wait}
}

// parseRetryAfter reads a Retry-After header: a number of seconds or an HTTP
// date. Anything else, or a time in the past, is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter caps a Retry-After, so that a silly value cannot stop new
// credentials for days.
const maxRetryAfter = time.Hour

// withThrottleTransport returns the transport for an SDK configuration whose
// transport was own (nil: the SDK's default, which is not exported, so an
// equivalent one is used). It notes failures in failures, and the first
// that retrying cannot cure in unreachable; either may be nil.
func withThrottleTransport(own http.RoundTripper, insecure bool, failures *Failures, unreachable *firstUnreachable) http.RoundTripper {
	if own == nil {
		own = defaultTransport
		if insecure {
			own = insecureTransport
		}
	}
	return throttleTransport{base: own, now: time.Now, failures: failures, unreachable: unreachable}
}

// The transports used when the user's SDK configuration names none, shared
// by every client as the SDK shares its own, so that idle connections stay
// few.
var (
	defaultTransport  = newTransport(false)
	insecureTransport = newTransport(true)
)

// newTransport returns a transport like the SDK's default one.
func newTransport(insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.IdleConnTimeout = 180 * time.Second
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	return t
}

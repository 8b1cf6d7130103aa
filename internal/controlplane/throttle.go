package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ThrottledError is the cause of a mint, or of a login's token request,
// that the workspace refused with 429 Too Many Requests. The SDK would retry
// such a call on its own schedule for up to its retry timeout (minutes),
// with contexts of its own for its logins; the driver's credential cache and
// lookups wait as told instead, so neither is ever retried by the SDK on a
// 429.
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
// transport turns into a *ThrottledError; its value ends that context.
type reportThrottleKey struct{}

// reportThrottling marks ctx: a 429 answer to a request made under it fails
// at once with a *ThrottledError instead of being retried by the SDK, and
// ends the returned context with that error as its cause, so that no retry
// loop of the SDK above the request (its HTTP client's, its token
// source's) outlasts it, whatever the request's URL says (the SDK retries
// a failure whose text holds "429", and a port can). Call done when the
// call is over: it releases the context and returns the *ThrottledError if
// there was one, else nil.
func reportThrottling(ctx context.Context) (marked context.Context, done func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	marked = context.WithValue(ctx, reportThrottleKey{}, cancel)
	return marked, func() error {
		var te *ThrottledError
		throttled := errors.As(context.Cause(ctx), &te)
		cancel(nil)
		if throttled {
			return te
		}
		return nil
	}
}

// throttleTransport is the HTTP transport of the driver's SDK clients: it
// passes every request to base, and turns a 429 answer to a marked request
// into a *ThrottledError. The SDK does not retry transport errors whose text
// is not one of its transient network failures. It also notes failed
// requests in failures (see checkAnswer). The Client's Close ends its
// requests in flight, and after Close it sends nothing more (see
// clientLife.hold and closedAnswer).
type throttleTransport struct {
	base        http.RoundTripper
	now         func() time.Time  // for a Retry-After given as a date
	failures    *Failures         // may be nil
	unreachable *firstUnreachable // may be nil
	life        *clientLife       // may be nil
}

// RoundTrip implements http.RoundTripper. A failure that retrying cannot
// cure becomes an *UnreachableError, which the SDK does not retry.
func (t throttleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var resp *http.Response
	var err error
	switch {
	case t.life == nil:
		resp, err = t.base.RoundTrip(r)
	case t.life.closed():
		return closedAnswer(r), nil
	default:
		resp, err = t.life.hold(r, t.base.RoundTrip)
	}
	if err = checkAnswer(r, resp, err, t.failures); err != nil {
		if ue, ok := err.(*UnreachableError); ok {
			t.unreachable.note(ue)
		}
		return nil, err
	}
	report, _ := r.Context().Value(reportThrottleKey{}).(context.CancelCauseFunc)
	if resp.StatusCode != http.StatusTooManyRequests || report == nil {
		return resp, err
	}
	wait := parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	// Read a little of the body so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	te := &ThrottledError{Wait: wait}
	report(te)
	return nil, te
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

// newClientTransport returns the HTTP transport of a Client whose SDK
// configuration names own, for throttleTransport to pass its requests to:
// own, or, when it is nil, a transport of the Client's own like the SDK's
// default one (which is not exported), returned a second time for Close to
// close its idle connections, so that none of them, and none of the
// goroutines that serve them, outlive the Client.
func newClientTransport(own http.RoundTripper, insecure bool) (base http.RoundTripper, owned *http.Transport) {
	if own != nil {
		return own, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.IdleConnTimeout = 180 * time.Second
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	return t, t
}

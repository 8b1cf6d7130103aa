package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// UnreachableError is a request to the workspace that failed in a way that
// retrying cannot cure: the workspace's port refuses connections, its host
// name does not exist, or TLS with it fails. The transport returns it at
// once, and the SDK, which would retry a refused connection until its retry
// timeout, does not retry it.
//
// Its text avoids the SDK's words for transient failures ("connection
// refused"), and it does not unwrap to the network error, since the SDK
// retries on either.
type UnreachableError struct {
	Workspace string // scheme and host of the workspace URL
	Reason    string // what went wrong, in words
}

// Error names the workspace and the reason.
func (e *UnreachableError) Error() string {
	return "cannot reach the workspace " + e.Workspace + ": " + e.Reason
}

// Is makes errors.Is(err, ErrUnreachable) hold.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// incurable says why err, a request's transport failure, cannot be cured by
// retrying, or reports false.
func incurable(err error) (string, bool) {
	var (
		dnsErr    *net.DNSError
		verifyErr *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
		alert     tls.AlertError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "its port refuses connections (is the URL's host and port right?)", true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "no such host " + dnsErr.Name, true
	case errors.As(err, &verifyErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return "its TLS certificate is not trusted: " + err.Error(), true
	case errors.As(err, &header):
		return "it does not answer in TLS (is the URL's scheme and port right?)", true
	case errors.As(err, &alert):
		return "the TLS handshake failed: " + alert.Error(), true
	}
	return "", false
}

// Failures keeps the last failed request to the workspace (a network error
// or a 5xx answer) that the SDK retried, so that a call that runs out of
// time can say what it met instead of only that time ran out. Its zero
// value is ready; it is safe for concurrent use.
type Failures struct {
	mu   sync.Mutex
	last string
	at   time.Time
}

// note records a failure.
func (f *Failures) note(what string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.last, f.at = what, time.Now()
	f.mu.Unlock()
}

// Since returns the last failure noted at or after t, or "".
func (f *Failures) Since(t time.Time) string {
	if f == nil {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at.Before(t) {
		return ""
	}
	return f.last
}

// firstUnreachable keeps the first request of one New that failed in a way
// retrying cannot cure. The SDK's login client (host metadata, OIDC
// discovery, tokens) retries any failure whose text holds one of its words
// for throttling, "429" among them, for up to its retry timeout; the text
// includes the URL, and a port or a workspace host name can hold "429". New
// stops waiting for the SDK as soon as one of its requests has failed for
// good. Only requests to the workspace itself count: in automatic mode the
// SDK also tries other hosts (a cloud's metadata service, say), whose
// failure says nothing of the workspace. A nil *firstUnreachable notes
// nothing.
type firstUnreachable struct {
	workspace string // scheme and host, as UnreachableError names them
	// seen ends at the first failure noted, with that failure as its cause,
	// so that a wait can stop on it.
	seen context.Context
	mark context.CancelCauseFunc
}

// newFirstUnreachable watches the requests to workspace, a URL's scheme and
// host.
func newFirstUnreachable(workspace string) *firstUnreachable {
	seen, mark := context.WithCancelCause(context.Background())
	return &firstUnreachable{workspace: strings.TrimSuffix(workspace, "/"), seen: seen, mark: mark}
}

// note records err, if it is a failure of a request to the workspace; the
// first one noted is kept.
func (f *firstUnreachable) note(err *UnreachableError) {
	if f != nil && strings.EqualFold(err.Workspace, f.workspace) {
		f.mark(err)
	}
}

// failure returns the failure noted, as New's error, or nil.
func (f *firstUnreachable) failure() error {
	cause := context.Cause(f.seen)
	if cause == nil {
		return nil
	}
	return fail(StepResolve, "", cause)
}

// checkAnswer turns a transport failure that retrying cannot cure into an
// *UnreachableError, and notes any other, and any 5xx answer, in failures.
func checkAnswer(r *http.Request, resp *http.Response, err error, failures *Failures) error {
	if err != nil {
		if reason, ok := incurable(err); ok {
			return &UnreachableError{Workspace: r.URL.Scheme + "://" + r.URL.Host, Reason: reason}
		}
		failures.note(r.URL.Scheme + "://" + r.URL.Host + ": " + err.Error())
		return err
	}
	if resp.StatusCode >= http.StatusInternalServerError {
		failures.note(r.URL.Scheme + "://" + r.URL.Host + " answered " + resp.Status)
	}
	return nil
}

package controlplane

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// errClientClosed fails the calls and requests of a Client after Close. Its
// text avoids the words the SDK retries on (see UnreachableError).
var errClientClosed = errors.New("lakebase: the workspace client is closed")

// clientLife is the lifetime of one Client, from the start of New to Close.
// The SDK logs in and refreshes tokens with contexts of its own, which no
// caller's deadline ends; the Client binds them to its lifetime instead
// (see boundStrategy), so that Close, or New giving up, ends them. The
// goroutines that the Client starts beside a caller who may stop waiting
// run under it too, and end waits for them.
type clientLife struct {
	ctx  context.Context
	stop context.CancelCauseFunc

	mu    sync.Mutex
	ended bool
	wg    sync.WaitGroup
}

func newClientLife() *clientLife {
	ctx, stop := context.WithCancelCause(context.Background())
	return &clientLife{ctx: ctx, stop: stop}
}

// bind returns ctx, also ended (with errClientClosed as its cause) when the
// lifetime ends. It needs no release: the link between the two goes away
// as soon as either ends.
func (l *clientLife) bind(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	unlink := context.AfterFunc(l.ctx, func() { cancel(errClientClosed) })
	context.AfterFunc(ctx, func() { unlink() })
	return ctx
}

// aside runs fn in a goroutine that end waits for, and reports true; after
// end it runs nothing and reports false.
func (l *clientLife) aside(fn func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.wg.Go(fn)
	return true
}

// closed reports whether the lifetime has ended.
func (l *clientLife) closed() bool { return l.ctx.Err() != nil }

// end ends the lifetime and waits for the goroutines started aside: bound
// contexts end with it, and with them the SDK's requests and its retries.
func (l *clientLife) end() {
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
	l.stop(errClientClosed)
	l.wg.Wait()
}

// hold binds r to the lifetime until its response body is closed: Close
// then ends a request in flight whatever context the SDK made it with (the
// SDK probes a login in automatic mode, and sets a request's token, with
// contexts of its own). send makes the round trip; hold releases the
// binding when it fails, or when the body it returns is closed.
func (l *clientLife) hold(r *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	unlink := context.AfterFunc(l.ctx, func() { cancel(errClientClosed) })
	release := func() {
		unlink()
		cancel(nil)
	}
	resp, err := send(r.WithContext(ctx))
	if err != nil || resp == nil || resp.Body == nil {
		release()
		return resp, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody is a response body that releases its request's binding to
// the lifetime when it is closed.
type releasingBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// closedAnswer is the answer to a request made after the lifetime ended:
// 400 Bad Request, which no retry loop of the SDK retries. An error would
// not do: the SDK's HTTP client puts the URL into a transport error's
// text, and retries a text that holds "429", as a port may.
func closedAnswer(r *http.Request) *http.Response {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	const text = "the workspace client is closed"
	return &http.Response{
		Status: "400 Bad Request", StatusCode: http.StatusBadRequest,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:          io.NopCloser(strings.NewReader(text)),
		ContentLength: int64(len(text)),
		Request:       r,
	}
}

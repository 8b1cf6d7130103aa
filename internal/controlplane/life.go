package controlplane

import (
	"context"
	"errors"
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

// Package credcache keeps the credential that new connections present as
// their password: one cache per connector, shared by every goroutine that
// connects through it.
//
// A credential is fetched (minted) once and reused while it is valid for at
// least a safety margin. Inside a refresh window before expiry, the first
// caller that notices starts one fetch in the background and every caller
// keeps getting the current credential, so no connection waits at rotation.
// With no usable credential, callers wait for a single shared fetch, each
// for as long as its own context allows.
//
// At most one fetch is in flight at any time. It runs detached from the
// callers' cancellation: if every waiter gives up, the fetch still finishes
// (bounded by Options.FetchTimeout and by Close) and its credential serves
// the next caller, so a mint slower than every caller's deadline still makes
// progress.
//
// After a failed fetch, the next one waits for a jittered, doubling backoff
// (Options.MinBackoff up to Options.MaxBackoff), whether or not a credential
// is still valid, except that while a credential is handed out the next fetch
// comes no later than when it stops being, so that callers from then on try
// once more rather than fail with an error the workspace may have
// outgrown. While a credential is valid, callers keep getting it. Without
// one, callers arriving during the backoff get the last failure at once
// instead of a new fetch: errors that survive the fetcher's own retries are
// usually not fixed by asking again within a second (a wrong secret, a missing
// permission), and a pool opening connections in a loop must not turn into a
// stream of mint requests. The first caller after the backoff fetches again.
//
// A failure that says when to try again (an error implementing RetryAfter,
// such as a mint throttled with 429 and Retry-After) is different: the next
// fetch waits at least that long, and callers without a usable credential
// wait for that moment and then fetch, each if its context's deadline allows
// it; one whose deadline comes sooner fails at once with the throttling and
// context.DeadlineExceeded.
//
// A login refused with the cached credential is reported with Invalidate,
// and one that succeeded with Confirm. A credential that has logged in and
// is then refused was revoked: it is dropped, and the next caller fetches.
// One that never logged in may be refused for the identity itself, which no
// new credential mends: the first such is dropped, the next only after the
// same kind of backoff, so that a refused identity costs one fetch per
// backoff rather than one per connection.
//
// Expiry is judged by the wall clock, so a machine that slept past a
// credential's expiry never presents it.
package credcache

package credcache

import "errors"

// ErrClosed is returned by Get after Close, and to callers waiting for a fetch
// that Close stopped.
var ErrClosed = errors.New("credcache: cache is closed")

// ErrExpired wraps the failure of a fetch that returned a credential already
// expired, or valid for less than the safety margin. Such a credential is not
// used, and the fetch counts as failed.
var ErrExpired = errors.New("credcache: fetched credential is expired or within the safety margin")

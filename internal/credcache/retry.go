package credcache

// Retry ends the backoff after a failed fetch, so that the next caller
// without a usable credential, and the next background refresh, fetch at
// once: for a fetcher whose input has changed since it failed (a newer token
// to mint with), which may now succeed. The failures in a row still count,
// so that a fetch that fails again backs off longer. A failure that said
// when to try again (a throttled fetch, see RetryAfter) keeps its wait.
func (c *Cache) Retry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr == nil {
		return
	}
	if _, throttled := retryAfter(c.lastErr); throttled {
		return
	}
	c.retryAt.Store(0)
}

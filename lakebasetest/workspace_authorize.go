package lakebasetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// wsAuthCode is an authorization code the authorize route granted.
type wsAuthCode struct {
	email       string
	clientID    string
	redirectURI string
	challenge   string
	offline     bool // offline_access was asked for: the exchange returns a refresh token
	expiry      time.Time
}

// serveAuthorize is the OAuth authorization endpoint of the PKCE flow. The
// user signed in to the browser (SetBrowserUser) consents at once: the route
// redirects to the caller's redirect_uri with code and state. Only the
// Databricks CLI's OAuth app is known, as the SDK's user login uses it:
// client id databricks-cli, and the redirect the SDK builds,
// http://localhost:PORT with no path (8020 unless the SDK is given another
// port); PKCE with S256 is required.
func (w *Workspace) serveAuthorize(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != cliClientID:
		// An unknown client has no trusted redirect (RFC 6749 4.1.2.1).
		wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "unknown client_id: the only OAuth app is databricks-cli")
		return
	case err != nil || !cliRedirect(redirect):
		// Never redirect to an unregistered address (RFC 6749 4.1.2.1).
		wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "redirect_uri is not registered for databricks-cli (want "+cliRedirectURI+")")
		return
	}
	reply := func(params url.Values) {
		params.Set("state", q.Get("state"))
		redirect.RawQuery = params.Encode()
		http.Redirect(rw, r, redirect.String(), http.StatusFound)
	}
	refuse := func(code, description string) {
		reply(url.Values{"error": {code}, "error_description": {description}})
	}
	switch {
	case q.Get("response_type") != "code":
		refuse("unsupported_response_type", "response_type must be code")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		refuse("invalid_request", "PKCE with code_challenge_method S256 is required")
		return
	}
	code := wsRandomToken()
	w.mu.Lock()
	email := w.browserUser
	if email != "" {
		w.codes[code] = wsAuthCode{
			email:       email,
			clientID:    q.Get("client_id"),
			redirectURI: q.Get("redirect_uri"),
			challenge:   q.Get("code_challenge"),
			offline:     slices.Contains(strings.Fields(q.Get("scope")), "offline_access"),
			expiry:      w.store.now().Add(authorizationCodeLifetime),
		}
	}
	w.mu.Unlock()
	if email == "" {
		refuse("access_denied", "no user is signed in to the browser")
		return
	}
	reply(url.Values{"code": {code}})
}

// OpenBrowser plays the browser of the user named by SetBrowserUser. It
// returns at once, like a real browser, and in the background visits rawURL
// (an authorize URL of this workspace) and follows its redirect back to the
// application's callback. Pass it to the SDK's u2m.WithBrowser. The outcome
// of a failed visit is kept for BrowserError; Close waits for visits in
// progress.
func (w *Workspace) OpenBrowser(rawURL string) error {
	if !strings.HasPrefix(rawURL, w.url+"/") {
		return errors.New("lakebasetest: open browser: the URL is not on this workspace")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return errors.New("lakebasetest: open browser: workspace is closed")
	default:
	}
	w.browsers.Add(1)
	go func() {
		defer w.browsers.Done()
		if err := w.visit(rawURL); err != nil {
			w.mu.Lock()
			if w.browserErr == nil {
				w.browserErr = err
			}
			w.mu.Unlock()
		}
	}()
	return nil
}

// BrowserError is the first failure of a visit of OpenBrowser, or nil.
func (w *Workspace) BrowserError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.browserErr
}

// visit GETs rawURL, following redirects, until Close.
func (w *Workspace) visit(rawURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-w.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("lakebasetest: browser: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error of http.Client names the URL, which carries the code.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("lakebasetest: browser: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("lakebasetest: browser: the page answered %s", resp.Status)
	}
	return nil
}

// cliRedirect reports whether u is a redirect of the CLI's app: the SDK's
// callback, http://localhost:PORT, without path, query or user.
func cliRedirect(u *url.URL) bool {
	return u.Scheme == "http" && u.Hostname() == "localhost" && u.Port() != "" &&
		u.Path == "" && u.RawQuery == "" && u.User == nil && u.Fragment == ""
}

package lakebasetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// wsMaxPageSize is the largest page the list routes return, as the real API.
const wsMaxPageSize = 100

// wsWriteJSON answers 200 with v as JSON.
func wsWriteJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

// wsWriteError answers with a Databricks API error body, which the SDK's
// apierr package turns into an *apierr.APIError.
func wsWriteError(rw http.ResponseWriter, status int, code, message string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error_code": code, "message": message})
}

// wsWriteOAuthError answers with an OAuth 2.0 error body (RFC 6749 5.2).
func wsWriteOAuthError(rw http.ResponseWriter, status int, code, description string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": code, "error_description": description})
}

// wsDecodeJSON reads a request body into v, or answers 400 and returns false.
func wsDecodeJSON(rw http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		wsWriteError(rw, http.StatusBadRequest, "MALFORMED_REQUEST", "could not parse request body")
		return false
	}
	return true
}

// wsPage cuts the page that r's page_size and page_token ask for out of
// items. The page token is the offset of the page's first item. It returns
// the next page's token ("" on the last page), or answers 400 and returns
// false.
func wsPage[T any](rw http.ResponseWriter, r *http.Request, items []T) ([]T, string, bool) {
	size, start := wsMaxPageSize, 0
	q := r.URL.Query()
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("invalid page_size %q", s))
			return nil, "", false
		}
		if n > 0 && n < size {
			size = n
		}
	}
	if s := q.Get("page_token"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > len(items) {
			wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "invalid page_token")
			return nil, "", false
		}
		start = n
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, true
}

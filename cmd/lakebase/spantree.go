package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// spanTree is a TracerProvider of the OpenTelemetry API that keeps the spans
// of one command in memory and prints them as a tree: how ping -trace shows
// the driver's steps. It implements only what printing needs (no ids, no
// sampling, no export), so the command needs no OpenTelemetry SDK.
type spanTree struct {
	embedded.TracerProvider

	mu    sync.Mutex
	spans []*treeSpan // in the order they started
}

// Tracer implements trace.TracerProvider.
func (t *spanTree) Tracer(string, ...trace.TracerOption) trace.Tracer { return treeTracer{tree: t} }

// treeTracer starts the spans of a spanTree.
type treeTracer struct {
	embedded.Tracer
	tree *spanTree
}

// Start implements trace.Tracer: the new span's parent is ctx's span when
// it is one of the tree's, unless the options ask for a new root.
func (tt treeTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	s := &treeSpan{tree: tt.tree, name: name, start: time.Now(), attrs: cfg.Attributes()}
	if p, ok := trace.SpanFromContext(ctx).(*treeSpan); ok && !cfg.NewRoot() && p.tree == tt.tree {
		s.parent = p
	}
	tt.tree.mu.Lock()
	tt.tree.spans = append(tt.tree.spans, s)
	tt.tree.mu.Unlock()
	return trace.ContextWithSpan(ctx, s), s
}

// treeSpan is one span of a spanTree; its fields are guarded by the tree's
// lock.
type treeSpan struct {
	embedded.Span
	tree   *spanTree
	parent *treeSpan
	name   string
	start  time.Time
	end    time.Time // zero while running
	attrs  []attribute.KeyValue
	events []string
	failed string // the status description of a failed span
}

func (s *treeSpan) End(...trace.SpanEndOption) {
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	if s.end.IsZero() {
		s.end = time.Now()
	}
}

func (s *treeSpan) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	s.events = append(s.events, name+describeAttrs(cfg.Attributes()))
}

func (s *treeSpan) SetStatus(code codes.Code, description string) {
	if code != codes.Error {
		return
	}
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	s.failed = description
}

func (s *treeSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	s.attrs = append(s.attrs, kv...)
}

func (s *treeSpan) SetName(name string) {
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	s.name = name
}

func (*treeSpan) AddLink(trace.Link)                      {}
func (*treeSpan) RecordError(error, ...trace.EventOption) {}
func (*treeSpan) IsRecording() bool                       { return true }
func (*treeSpan) SpanContext() trace.SpanContext          { return trace.SpanContext{} }
func (s *treeSpan) TracerProvider() trace.TracerProvider  { return s.tree }

// shownAttrs are the attributes the tree prints, when a span has them.
var shownAttrs = []attribute.Key{"server.address", "server.port", "lakebase.credential.lifetime", "error.type"}

// describeAttrs prints the shown attributes among attrs.
func describeAttrs(attrs []attribute.KeyValue) string {
	var parts []string
	for _, key := range shownAttrs {
		for _, kv := range attrs {
			if kv.Key == key {
				parts = append(parts, string(key)+"="+kv.Value.Emit())
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// write prints the tree: each span indented under its parent, with its
// duration, whether it failed, its shown attributes and its events.
func (t *spanTree) write(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var walk func(parent *treeSpan, depth int)
	walk = func(parent *treeSpan, depth int) {
		for _, s := range t.spans {
			if s.parent != parent {
				continue
			}
			took := "running"
			if !s.end.IsZero() {
				took = round(s.end.Sub(s.start)).String()
			}
			status := ""
			if s.failed != "" {
				status = "  FAILED"
			}
			indent := strings.Repeat("  ", depth)
			fmt.Fprintf(w, "%-34s %9s%s%s\n", indent+s.name, took, status, describeAttrs(s.attrs))
			for _, e := range s.events {
				fmt.Fprintf(w, "%s  * %s\n", indent, e)
			}
			walk(s, depth+1)
		}
	}
	walk(nil, 0)
}

package controlplane

import (
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "2025-06-01T12:00:00Z", want: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2025-06-01T12:00:00.5Z", want: time.Date(2025, 6, 1, 12, 0, 0, 500_000_000, time.UTC)},
		{in: "2025-06-01T12:00:00.123456789Z", want: time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)},
		{in: "2025-06-01T14:00:00+02:00", want: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2025-06-01T07:30:00.25-04:30", want: time.Date(2025, 6, 1, 12, 0, 0, 250_000_000, time.UTC)},
		{in: "2025-06-01t12:00:00z", want: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2025-06-01 12:00:00Z", want: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2025-06-01 14:00:00.5+02:00", want: time.Date(2025, 6, 1, 12, 0, 0, 500_000_000, time.UTC)},
		{in: "2025-06-01T12:00:00.123456789012Z", want: time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)},
		{in: "2025-06-01T12:00:00-00:00", want: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{in: "2016-12-31T23:59:60Z", want: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)}, // a leap second
		{in: "", wantErr: true},
		{in: "2025-06-01x12:00:00Z", wantErr: true},
		{in: "2025-06-01T12:00:61Z", wantErr: true},
		{in: "2025-06-01", wantErr: true},
		{in: "2025-06-01 12:00:00", wantErr: true},
		{in: "2025-06-01T12:00:00", wantErr: true},
		{in: "1717243200", wantErr: true},
		{in: "2025-13-01T12:00:00Z", wantErr: true},
		{in: "not a time", wantErr: true},
		{in: "0001-01-01T00:00:00+01:00", wantErr: true}, // year 0 in UTC
		{in: "9999-12-31T23:00:00-02:00", wantErr: true}, // year 10000 in UTC
	}
	for _, tt := range tests {
		got, err := ParseExpiry(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseExpiry(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseExpiry(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseExpiry(%q) = %v, want %v in UTC", tt.in, got, tt.want)
		}
	}
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{
		"2025-06-01T12:00:00Z",
		"2025-06-01T12:00:00.123456789Z",
		"2025-06-01T14:00:00+02:00",
		"2025-06-01 12:00:00",
		"2025-06-01t12:00:60z",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpiry(s)
		if err != nil {
			return
		}
		for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
			formatted := got.Format(layout)
			again, err := ParseExpiry(formatted)
			if err != nil {
				t.Fatalf("ParseExpiry(%q) parsed, but its formatting %q does not: %v", s, formatted, err)
			}
			want := got
			if layout == time.RFC3339 {
				want = got.Truncate(time.Second)
			}
			if !again.Equal(want) {
				t.Fatalf("round trip of %q through %q: got %v, want %v", s, formatted, again, want)
			}
		}
	})
}

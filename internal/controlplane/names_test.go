package controlplane

import "testing"

func TestCheckNames(t *testing.T) {
	instances := map[string]bool{
		"my-db": true, "db_1": true, "": false, "a/b": false, "a?b": false,
		"a#b": false, "a%2Fb": false, "a b": false, "..": true,
	}
	for name, ok := range instances {
		if err := CheckInstanceName(name); (err == nil) != ok {
			t.Errorf("CheckInstanceName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	endpoints := map[string]bool{
		"projects/p/branches/b/endpoints/e":        true,
		"projects/p-1/branches/main/endpoints/rw":  true,
		"projects/p/branches/b/endpoints/":         false,
		"projects/p/branches/b":                    false,
		"projects/p/branches/b/endpoints/e/x":      false,
		"project/p/branches/b/endpoints/e":         false,
		"projects/p/branches/b/endpoints/e?x=1":    false,
		"projects/p/branches/b%2Fc/endpoints/e":    false,
		"/projects/p/branches/b/endpoints/e":       false,
		"projects/p/branches/b/endpoints/e\n":      false,
		"projects//branches/b/endpoints/e":         false,
		"projects/p/branches/b/endpoints/e e":      false,
		"projects/p/branches/b/endpoints/e#x":      false,
		"projects/p/branches/b/endpoints/e\\x":     false,
		"projects/p/branches/b/endpoints/e\x7f":    false,
		"projects/p/branches/b/endpoints/endpoint": true,
	}
	for path, ok := range endpoints {
		if err := CheckEndpointPath(path); (err == nil) != ok {
			t.Errorf("CheckEndpointPath(%q) = %v, want ok=%v", path, err, ok)
		}
	}
}

func TestSameHost(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"instance-1.database.cloud.databricks.com", "instance-1.database.cloud.databricks.com", true},
		{"Instance-1.Database.Cloud.Databricks.com.", "instance-1.database.cloud.databricks.com", true},
		{"instance-1.database.example", "instance-1.database.example:5432", true},
		{"127.0.0.1:5432", "127.0.0.1", true},
		{"127.0.0.1:5432", "127.0.0.1:5432", true},
		{"127.0.0.1:5432", "127.0.0.1:5433", false},
		{"[::1]:5432", "::1", true},
		{"instance-1.database.example", "instance-2.database.example", false},
		{"", "", false},
		{"", "h", false},
	}
	for _, tt := range tests {
		if got := sameHost(tt.a, tt.b); got != tt.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := sameHost(tt.b, tt.a); got != tt.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

package controlplane

import (
	"testing"
)

// The SDK takes the workspace's cloud from the host metadata, whatever the
// host name, and the driver's lookups and mints do not depend on it.
func TestHostMetadataCloud(t *testing.T) {
	w := startWorkspace(t)
	for _, cloud := range []string{"Azure", "GCP", "AWS"} {
		must(t, w.SetCloud(cloud))
		c := newClient(t, m2m(w))
		if got := string(c.w.Config.Cloud); got != cloud {
			t.Errorf("the SDK's cloud = %q, want %q from the host metadata", got, cloud)
		}
		if c.w.Config.IsAzure() != (cloud == "Azure") || c.w.Config.IsGcp() != (cloud == "GCP") {
			t.Errorf("%s: IsAzure %t, IsGcp %t", cloud, c.w.Config.IsAzure(), c.w.Config.IsGcp())
		}
		if name, err := c.UserName(testContext(t)); err != nil || name != spID {
			t.Errorf("%s: UserName = %q, %v", cloud, name, err)
		}
		if _, err := c.Instance(testContext(t), instName); err != nil {
			t.Errorf("%s: Instance: %v", cloud, err)
		}
		if _, _, err := c.MintForEndpoint(testContext(t), epPath, 0, nil); err != nil {
			t.Errorf("%s: MintForEndpoint: %v", cloud, err)
		}
	}
	if err := w.SetCloud("Oracle"); err == nil {
		t.Error("SetCloud(Oracle) succeeded")
	}
}
